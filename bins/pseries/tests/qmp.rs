//! QMP and HMP over real unix sockets, opened from real command lines by
//! `Frontends`, driving a test implementation of `VmControl`.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use common::{event_names, qmp_server, socket_path, start, Client, TestVm, HANG_GUARD};
use pseries::io::Frontends;
use pseries::monitor::events::{Event, ShutdownCause};
use pseries::monitor::{MigrationInfo, MigrationStatus, RunStatus};
use pseries::options::{self, frontends, Parsed};
use serde_json::{json, Value};

#[test]
fn greeting_and_negotiation() {
    let (path, _io) = qmp_server(TestVm::new(RunStatus::Prelaunch));
    let mut c = Client::connect(&path);
    let greeting = c.raw_line();
    assert_eq!(
        greeting,
        format!(
            "{{\"QMP\": {{\"version\": {{\"qemu\": {{\"micro\": 0, \"minor\": 2, \"major\": 7}}, \"package\": \"pseries-rs {}\"}}, \"capabilities\": []}}}}\r\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    let not_yet = json!({"error": {"class": "CommandNotFound",
        "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}});
    assert_eq!(c.cmd(r#"{"execute":"query-status"}"#).1, not_yet);
    assert_eq!(c.cmd(r#"{"execute":"foo"}"#).1, not_yet);
    assert_eq!(
        c.cmd(r#"{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}"#)
            .1,
        json!({"error": {"class": "GenericError", "desc": "Capability 'oob' not available"}})
    );
    c.send(r#"{"execute":"qmp_capabilities","id":7}"#);
    assert_eq!(c.raw_line(), "{\"return\": {}, \"id\": 7}\r\n");
    assert_eq!(
        c.cmd(r#"{"execute":"qmp_capabilities"}"#).1,
        json!({"error": {"class": "CommandNotFound",
            "desc": "Capabilities negotiation is already complete, command ignored"}})
    );
    c.send(r#"{"execute":"query-status"}"#);
    assert_eq!(
        c.raw_line(),
        "{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, \"running\": false}}\r\n"
    );
}

#[test]
fn malformed_requests_get_qemu_errors() {
    let (path, _io) = qmp_server(TestVm::new(RunStatus::Prelaunch));
    let mut c = Client::negotiated(&path);
    let generic = |desc: &str| json!({"error": {"class": "GenericError", "desc": desc}});
    let cases = [
        (
            "garbage\n",
            generic("JSON parse error, invalid keyword 'garbage'"),
        ),
        ("[1]", generic("QMP input must be a JSON object")),
        (
            r#"{"foo":1}"#,
            generic("QMP input member 'foo' is unexpected"),
        ),
        (
            r#"{"execute":1}"#,
            generic("QMP input member 'execute' must be a string"),
        ),
        (
            r#"{"execute":"stop","arguments":[]}"#,
            generic("QMP input member 'arguments' must be an object"),
        ),
        (
            r#"{"arguments":{}}"#,
            generic("QMP input lacks member 'execute'"),
        ),
        (
            r#"{"execute":"query-status","extra":1}"#,
            generic("QMP input member 'extra' is unexpected"),
        ),
        (
            r#"{"execute":"query-status","arguments":{"x":1}}"#,
            generic("Parameter 'x' is unexpected"),
        ),
        (
            r#"{"execute":"migrate"}"#,
            generic("Parameter 'uri' is missing"),
        ),
        (
            r#"{"execute":"migrate","arguments":{"uri":5}}"#,
            generic("Invalid parameter type for 'uri', expected: string"),
        ),
        (
            r#"{"execute":"human-monitor-command"}"#,
            generic("Parameter 'command-line' is missing"),
        ),
        (
            r#"{"execute":"migrate-incoming","arguments":{"uri":"unix:/tmp/y"}}"#,
            generic("'-incoming' was not specified on the command line"),
        ),
        (
            r#"{"execute":"foo"}"#,
            json!({"error": {"class": "CommandNotFound", "desc": "The command foo has not been found"}}),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(c.cmd(input).1, expected, "{input}");
    }
    // The id comes back whatever its type: before an error, after a
    // return, as QEMU orders them.
    c.send(r#"{"execute":"foo","id":{"x":[1,"y"]}}"#);
    assert_eq!(
        c.raw_line(),
        "{\"id\": {\"x\": [1, \"y\"]}, \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command foo has not been found\"}}\r\n"
    );
    c.send(r#"{"id":"x"}"#);
    assert_eq!(
        c.raw_line(),
        "{\"id\": \"x\", \"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input lacks member 'execute'\"}}\r\n"
    );
    // Still serving after all that.
    assert_eq!(
        c.cmd(r#"{"execute":"query-status"}"#).1["return"]["status"],
        "prelaunch"
    );
}

#[test]
fn run_state_changes_emit_events_before_the_reply() {
    let vm = TestVm::new(RunStatus::Prelaunch);
    let (path, _io) = qmp_server(vm.clone());
    let mut c = Client::negotiated(&path);
    let (events, r) = c.cmd(r#"{"execute":"cont"}"#);
    assert_eq!(r, json!({"return": {}}));
    assert_eq!(event_names(&events), ["RESUME"]);
    assert!(events[0]["timestamp"]["seconds"].as_u64().unwrap() > 1_600_000_000);
    assert!(events[0]["timestamp"]["microseconds"].as_u64().unwrap() < 1_000_000);
    assert_eq!(
        c.cmd(r#"{"execute":"query-status"}"#).1,
        json!({"return": {"status": "running", "singlestep": false, "running": true}})
    );
    let (events, _) = c.cmd(r#"{"execute":"stop"}"#);
    assert_eq!(event_names(&events), ["STOP"]);
    // Stopping a stopped VM changes nothing and says nothing.
    let (events, r) = c.cmd(r#"{"execute":"stop"}"#);
    assert!(events.is_empty());
    assert_eq!(r, json!({"return": {}}));

    let (events, _) = c.cmd(r#"{"execute":"system_reset"}"#);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"], "RESET");
    assert_eq!(
        events[0]["data"],
        json!({"guest": false, "reason": "host-qmp-system-reset"})
    );
    vm.st().no_reboot = true;
    let (events, _) = c.cmd(r#"{"execute":"system_reset"}"#);
    assert_eq!(events[0]["event"], "SHUTDOWN");
    assert_eq!(events[0]["data"]["reason"], "host-qmp-system-reset");
    assert_eq!(vm.st().resets, 2);

    let (events, _) = c.cmd(r#"{"execute":"system_powerdown"}"#);
    assert_eq!(event_names(&events), ["POWERDOWN"]);
    assert_eq!(vm.st().powerdowns, 1);

    vm.st().status = RunStatus::Shutdown;
    assert_eq!(
        c.cmd(r#"{"execute":"cont"}"#).1,
        json!({"error": {"class": "GenericError", "desc": "Resetting the Virtual Machine is required"}})
    );
}

#[test]
fn machine_events_reach_negotiated_clients_only() {
    let vm = TestVm::new(RunStatus::Running);
    let (path, io) = qmp_server(vm);
    let mut c = Client::connect(&path);
    c.line();
    // Not negotiated yet: the event is not for this client.
    io.events().emit(Event::Stop);
    let (events, r) = c.cmd(r#"{"execute":"qmp_capabilities"}"#);
    assert!(events.is_empty());
    assert_eq!(r, json!({"return": {}}));
    io.events()
        .emit(Event::Shutdown(ShutdownCause::GuestShutdown));
    let e = c.line();
    assert_eq!(e["event"], "SHUTDOWN");
    assert_eq!(
        e["data"],
        json!({"guest": true, "reason": "guest-shutdown"})
    );
    io.events()
        .emit(Event::Migration(MigrationStatus::Completed));
    assert_eq!(c.line()["data"], json!({"status": "completed"}));
    // One client at a time per chardev, as QEMU: the next one is served
    // once this one leaves, and starts from the greeting.
    drop(c);
    let mut c = Client::negotiated(&path);
    io.events().emit(Event::Resume);
    assert_eq!(c.line()["event"], "RESUME");
}

#[test]
fn migration_commands() {
    let vm = TestVm::new(RunStatus::Running);
    let (path, _io) = qmp_server(vm.clone());
    let mut c = Client::negotiated(&path);
    assert_eq!(
        c.cmd(r#"{"execute":"query-migrate"}"#).1,
        json!({"return": {}})
    );
    assert_eq!(
        c.cmd(r#"{"execute":"migrate","arguments":{"uri":"foo:bar"}}"#)
            .1["error"]["desc"],
        "unknown migration protocol: foo:bar"
    );
    assert_eq!(
        c.cmd(r#"{"execute":"migrate","arguments":{"uri":"unix:/tmp/nowhere","blk":true}}"#)
            .1["error"]["class"],
        "GenericError"
    );
    assert_eq!(
        c.cmd(r#"{"execute":"migrate","arguments":{"uri":"unix:/tmp/nowhere"}}"#)
            .1,
        json!({"return": {}})
    );
    assert_eq!(
        c.cmd(r#"{"execute":"query-migrate"}"#).1,
        json!({"return": {"status": "active", "total-time": 3}})
    );
    {
        let mut s = vm.st();
        s.migration = MigrationInfo::with_status(MigrationStatus::Completed);
        s.migration.setup_time_ms = Some(1);
        s.migration.downtime_ms = Some(20);
        s.migration.total_time_ms = Some(70);
        s.migration.transferred_bytes = Some(4096);
        s.migration.total_bytes = Some(512 << 20);
        s.migration.remaining_bytes = Some(0);
        s.status = RunStatus::PostMigrate;
    }
    let r = c.cmd(r#"{"execute":"query-migrate"}"#).1;
    assert_eq!(
        r,
        json!({"return": {"status": "completed", "setup-time": 1, "downtime": 20, "total-time": 70,
            "ram": {"transferred": 4096, "total": 536870912, "remaining": 0}}})
    );
    vm.st().migration = MigrationInfo {
        error_desc: Some("Failed to connect to '/tmp/nowhere': No such file or directory".into()),
        ..MigrationInfo::with_status(MigrationStatus::Failed)
    };
    assert_eq!(
        c.cmd(r#"{"execute":"query-migrate"}"#).1,
        json!({"return": {"status": "failed",
            "error-desc": "Failed to connect to '/tmp/nowhere': No such file or directory"}})
    );
    assert_eq!(
        c.cmd(r#"{"execute":"human-monitor-command","arguments":{"command-line":"info migrate"}}"#)
            .1,
        json!({"return": "Migration status: failed (Failed to connect to '/tmp/nowhere': No such file or directory)\r\ntotal time: 0 ms\r\n"})
    );
}

#[test]
fn incoming_defer_then_migrate_incoming() {
    let vm = TestVm::new(RunStatus::InMigrate);
    let (path, _io) = qmp_server(vm.clone());
    let mut c = Client::negotiated(&path);
    assert_eq!(
        c.cmd(r#"{"execute":"query-status"}"#).1["return"]["status"],
        "inmigrate"
    );
    // cont while waiting: no RESUME, the start happens after the migration.
    let (events, r) = c.cmd(r#"{"execute":"cont"}"#);
    assert!(events.is_empty());
    assert_eq!(r, json!({"return": {}}));
    assert!(vm.st().autostart);
    let (events, _) = c.cmd(r#"{"execute":"stop"}"#);
    assert!(events.is_empty());
    assert!(!vm.st().autostart);
    assert_eq!(
        c.cmd(r#"{"execute":"migrate","arguments":{"uri":"unix:/tmp/x"}}"#)
            .1["error"]["desc"],
        "Guest is waiting for an incoming migration"
    );
    assert_eq!(
        c.cmd(r#"{"execute":"migrate-incoming","arguments":{"uri":"unix:/tmp/in.sock"}}"#)
            .1,
        json!({"return": {}})
    );
    assert_eq!(
        c.cmd(r#"{"execute":"migrate-incoming","arguments":{"uri":"unix:/tmp/in.sock"}}"#)
            .1["error"]["desc"],
        "The incoming migration has already been started"
    );
    assert_eq!(
        c.cmd(r#"{"execute":"query-migrate"}"#).1,
        json!({"return": {"socket-address": [{"path": "/tmp/in.sock", "type": "unix"}]}})
    );
    assert_eq!(
        c.cmd(r#"{"execute":"human-monitor-command","arguments":{"command-line":"info status"}}"#)
            .1,
        json!({"return": "VM status: paused (inmigrate)\r\n"})
    );
}

#[test]
fn human_monitor_command() {
    let vm = TestVm::new(RunStatus::Prelaunch);
    let (path, _io) = qmp_server(vm);
    let mut c = Client::negotiated(&path);
    let mut hmp = |line: &str| {
        let req = json!({"execute": "human-monitor-command", "arguments": {"command-line": line}});
        c.cmd(&req.to_string())
    };
    let ret = |v: Value| v["return"].as_str().unwrap().to_string();
    assert_eq!(
        ret(hmp("info status").1),
        "VM status: paused (prelaunch)\r\n"
    );
    assert_eq!(
        ret(hmp("info cpus").1),
        "* CPU #0: thread_id=4242\r\n  CPU #1: thread_id=4243\r\n"
    );
    assert_eq!(
        ret(hmp("info pic").1),
        "CPU 0 XIRR=00000000 ((nil)) PP=ff MFRR=ff\r\nirqchip: emulated\r\n"
    );
    assert_eq!(ret(hmp("info capabilities").1), "cap-htm=off (default)\r\n");
    assert_eq!(ret(hmp("bogus").1), "unknown command: 'bogus'\r\n");
    assert_eq!(
        ret(hmp("info bogus").1),
        "unknown command: 'info bogus'\r\n"
    );
    assert_eq!(
        ret(hmp("c extra").1),
        "cont|c: extraneous characters at the end of line\r\nTry \"help c\" for more information\r\n"
    );
    assert_eq!(
        ret(hmp("info status extra").1),
        "status: extraneous characters at the end of line\r\nTry \"help info status\" for more information\r\n"
    );
    assert_eq!(
        ret(hmp("migrate").1),
        "migrate: string expected\r\nTry \"help migrate\" for more information\r\n"
    );
    assert_eq!(ret(hmp("help quit").1), "quit|q  -- quit the emulator\r\n");
    assert_eq!(ret(hmp("help stop").1), "stop|s  -- stop emulation\r\n");
    let help = ret(hmp("help").1);
    for cmd in [
        "cont|c",
        "info [subcommand]",
        "migrate [-d] uri",
        "migrate_incoming uri",
        "system_powerdown",
        "system_reset",
        "quit|q",
    ] {
        assert!(help.contains(cmd), "{cmd} missing from help");
    }
    let info = ret(hmp("info").1);
    for sub in [
        "info capabilities",
        "info cpus",
        "info migrate",
        "info pic",
        "info status",
    ] {
        assert!(info.contains(sub), "{sub} missing from info");
    }
    // HMP commands emit the same events as QMP's.
    let (events, r) = hmp("c");
    assert_eq!(event_names(&events), ["RESUME"]);
    assert_eq!(ret(r), "");
    assert_eq!(ret(hmp("info status").1), "VM status: running\r\n");
    assert_eq!(
        ret(hmp("migrate \"unix:/tmp/q r\"").1),
        "terminal does not allow synchronous migration, continuing detached\r\n"
    );
    assert_eq!(ret(hmp("migrate -d unix:/tmp/x").1), "");
    assert_eq!(
        ret(hmp("migrate_incoming unix:/tmp/x").1),
        "Error: '-incoming' was not specified on the command line\r\n"
    );
}

#[test]
fn concatenated_requests_then_close_as_the_migration_harness_sends_them() {
    let vm = TestVm::new(RunStatus::Running);
    let (path, _io) = qmp_server(vm);
    let mut c = Client::connect(&path);
    c.line();
    c.send(r#"{"execute":"qmp_capabilities"}{"execute":"migrate","arguments":{"uri":"unix:/tmp/dest.sock"}}"#);
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(c.line(), json!({"return": {}}));
    assert_eq!(c.line(), json!({"return": {}}));
    let mut rest = String::new();
    c.reader.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "the server closes after the client's EOF");
    // A new client needs to negotiate again and sees the migration.
    let mut c = Client::negotiated(&path);
    assert_eq!(
        c.cmd(r#"{"execute":"query-migrate"}"#).1["return"]["status"],
        "active"
    );
}

#[test]
fn quit_sends_the_event_and_the_reply_then_quits() {
    let vm = TestVm::new(RunStatus::Running);
    let (path, _io) = qmp_server(vm.clone());
    let mut c = Client::negotiated(&path);
    let (events, r) = c.cmd(r#"{"execute":"quit","id":"q"}"#);
    assert_eq!(event_names(&events), ["SHUTDOWN"]);
    assert_eq!(
        events[0]["data"],
        json!({"guest": false, "reason": "host-qmp-quit"})
    );
    assert_eq!(r, json!({"return": {}, "id": "q"}));
    vm.wait_quit();
}

#[test]
fn qmp_on_a_chardev_with_mon() {
    let vm = TestVm::new(RunStatus::Running);
    let path = socket_path("mon");
    let chardev = format!("socket,id=mon,path={},server=on,wait=off", path.display());
    let _io = start(
        &[
            "-nodefaults",
            "-chardev",
            &chardev,
            "-mon",
            "chardev=mon,mode=control,pretty=on",
        ],
        vm,
    );
    let mut c = Client::connect(&path);
    // Pretty output: one value over several lines.
    let mut text = String::new();
    loop {
        let l = c.raw_line();
        text.push_str(&l);
        if l == "}\r\n" {
            break;
        }
    }
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["QMP"]["version"]["qemu"]["major"], 7);
    assert!(text.starts_with("{\r\n    \"QMP\": {\r\n"), "{text}");
}

#[test]
fn hmp_on_a_socket() {
    let vm = TestVm::new(RunStatus::Prelaunch);
    let path = socket_path("hmp");
    let spec = format!("unix:{},server=on,wait=off", path.display());
    let _io = start(&["-nodefaults", "-monitor", &spec], vm.clone());
    let mut s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(HANG_GUARD)).unwrap();
    let mut got = Vec::new();
    let mut read_until = |s: &mut UnixStream, end: &str| {
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(&got).ends_with(end) {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "EOF before {end:?}");
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(std::mem::take(&mut got)).unwrap()
    };
    let banner = read_until(&mut s, "(qemu) ");
    assert_eq!(
        banner,
        format!(
            "pseries-rs {} monitor - type 'help' for more information\r\n(qemu) ",
            env!("CARGO_PKG_VERSION")
        )
    );
    s.write_all(b"info status\r\n").unwrap();
    assert_eq!(
        read_until(&mut s, "(qemu) "),
        "VM status: paused (prelaunch)\r\n(qemu) "
    );
    s.write_all(b"cont\n").unwrap();
    assert_eq!(read_until(&mut s, "(qemu) "), "(qemu) ");
    s.write_all(b"info status\n").unwrap();
    assert_eq!(
        read_until(&mut s, "(qemu) "),
        "VM status: running\r\n(qemu) "
    );
    s.write_all(b"q\n").unwrap();
    vm.wait_quit();
}

#[test]
fn serial_console_on_a_socket() {
    let path = socket_path("serial");
    let spec = format!("unix:{},server=on,wait=off", path.display());
    let Parsed::Run(opts) = options::parse(["-nodefaults", "-serial", spec.as_str()]).unwrap()
    else {
        panic!()
    };
    let plan = frontends::plan(&opts).unwrap();
    let io = Frontends::open(&plan, "pseries").unwrap();
    let port = io.serial().expect("a console");
    let mut s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(HANG_GUARD)).unwrap();
    // Wait until the server thread has taken the client.
    while !port.output().is_connected() {
        std::thread::yield_now();
    }
    port.write(b"hello from the guest");
    let mut buf = [0u8; 20];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello from the guest");
    s.write_all(b"key").unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        let mut b = [0u8; 8];
        let n = port.read(&mut b);
        got.extend_from_slice(&b[..n]);
        std::thread::yield_now();
    }
    assert_eq!(got, b"key");
}
