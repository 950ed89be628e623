//! Shared by the monitor tests: a `VmControl` with QEMU's state rules for
//! the commands, front ends opened from real command lines, and a QMP
//! client over a unix socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use pseries::io::Frontends;
use pseries::monitor::{
    CpuSummary, MigrationInfo, MigrationStatus, ResetAction, RunStatus, VmControl,
};
use pseries::options::{self, frontends, Parsed};
use serde_json::{json, Value};

/// Only a guard against a hung test: no assertion depends on time.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// The run state and what the commands changed.
pub struct State {
    pub status: RunStatus,
    pub autostart: bool,
    pub migration: MigrationInfo,
    pub incoming: bool,
    pub no_reboot: bool,
    pub resets: u32,
    pub powerdowns: u32,
}

/// A machine stand-in with QEMU's state rules for the commands.
pub struct TestVm {
    state: Mutex<State>,
    quit: Mutex<bool>,
    quit_cv: Condvar,
}

impl TestVm {
    pub fn new(status: RunStatus) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                status,
                autostart: true,
                migration: MigrationInfo::none(),
                incoming: status == RunStatus::InMigrate,
                no_reboot: false,
                resets: 0,
                powerdowns: 0,
            }),
            quit: Mutex::new(false),
            quit_cv: Condvar::new(),
        })
    }

    pub fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    pub fn wait_quit(&self) {
        let mut q = self.quit.lock().unwrap();
        while !*q {
            let (g, t) = self.quit_cv.wait_timeout(q, HANG_GUARD).unwrap();
            assert!(!t.timed_out(), "quit never came");
            q = g;
        }
    }
}

impl VmControl for TestVm {
    fn status(&self) -> RunStatus {
        self.st().status
    }
    fn stop(&self) {
        let mut s = self.st();
        match s.status {
            RunStatus::InMigrate => s.autostart = false,
            RunStatus::Running => s.status = RunStatus::Paused,
            _ => {}
        }
    }
    fn cont(&self) -> Result<(), String> {
        let mut s = self.st();
        match s.status {
            RunStatus::InMigrate => s.autostart = true,
            RunStatus::Shutdown => return Err("Resetting the Virtual Machine is required".into()),
            _ => s.status = RunStatus::Running,
        }
        Ok(())
    }
    fn system_reset(&self) -> ResetAction {
        let mut s = self.st();
        s.resets += 1;
        if s.no_reboot {
            ResetAction::Shutdown
        } else {
            ResetAction::Reset
        }
    }
    fn system_powerdown(&self) {
        self.st().powerdowns += 1;
    }
    fn quit(&self) {
        *self.quit.lock().unwrap() = true;
        self.quit_cv.notify_all();
    }
    fn migrate(&self, uri: &str) -> Result<(), String> {
        let mut s = self.st();
        if s.status == RunStatus::InMigrate {
            return Err("Guest is waiting for an incoming migration".into());
        }
        migration::MigrationUri::parse_outgoing(uri).map_err(|e| e.to_string())?;
        s.migration = MigrationInfo::with_status(MigrationStatus::Active);
        s.migration.total_time_ms = Some(3);
        Ok(())
    }
    fn migrate_info(&self) -> MigrationInfo {
        self.st().migration.clone()
    }
    fn migrate_incoming(&self, uri: &str) -> Result<(), String> {
        let mut s = self.st();
        if !s.incoming {
            return Err("'-incoming' was not specified on the command line".into());
        }
        if !s.migration.socket_addresses.is_empty() {
            return Err("The incoming migration has already been started".into());
        }
        s.migration.socket_addresses.push(uri.to_string());
        Ok(())
    }
    fn info_pic(&self) -> String {
        "CPU 0 XIRR=00000000 ((nil)) PP=ff MFRR=ff\nirqchip: emulated\n".into()
    }
    fn cpus(&self) -> Vec<CpuSummary> {
        vec![
            CpuSummary {
                index: 0,
                thread_id: Some(4242),
            },
            CpuSummary {
                index: 1,
                thread_id: Some(4243),
            },
        ]
    }
    fn info_capabilities(&self) -> String {
        "cap-htm=off (default)\n".into()
    }
}

pub fn socket_path(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    std::env::temp_dir().join(format!("pseries-t{}-{tag}-{n}.sock", std::process::id()))
}

/// Opens the front ends of `args` and starts the monitors on `vm`.
pub fn start(args: &[&str], vm: Arc<TestVm>) -> Frontends {
    let Parsed::Run(opts) = options::parse(args.iter().copied()).unwrap() else {
        panic!("not a run")
    };
    let plan = frontends::plan(&opts).unwrap();
    let mut io = Frontends::open(&plan, "pseries").unwrap();
    io.start_monitors(vm).unwrap();
    io
}

pub struct Client {
    pub stream: UnixStream,
    pub reader: BufReader<UnixStream>,
}

impl Client {
    pub fn connect(path: &PathBuf) -> Self {
        let stream = UnixStream::connect(path).unwrap();
        stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Self { stream, reader }
    }

    pub fn raw_line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        assert!(line.ends_with("\r\n"), "QMP lines end in CRLF: {line:?}");
        line
    }

    pub fn line(&mut self) -> Value {
        serde_json::from_str(&self.raw_line()).unwrap()
    }

    pub fn send(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).unwrap();
    }

    /// Sends a request; returns (events before the reply, the reply).
    pub fn cmd(&mut self, text: &str) -> (Vec<Value>, Value) {
        self.send(text);
        let mut events = Vec::new();
        loop {
            let v = self.line();
            if v.get("event").is_some() {
                events.push(v);
            } else {
                return (events, v);
            }
        }
    }

    pub fn negotiated(path: &PathBuf) -> Self {
        let mut c = Self::connect(path);
        c.line();
        assert_eq!(
            c.cmd(r#"{"execute":"qmp_capabilities"}"#).1,
            json!({"return": {}})
        );
        c
    }
}

pub fn qmp_server(vm: Arc<TestVm>) -> (PathBuf, Frontends) {
    let path = socket_path("qmp");
    let spec = format!("unix:{},server=on,wait=off", path.display());
    let io = start(&["-nodefaults", "-qmp", &spec], vm);
    (path, io)
}

pub fn event_names(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}
