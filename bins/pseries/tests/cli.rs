//! The built `pseries` binary: every bad option of issue 8 gets QEMU's
//! message on stderr and exit status 1; help, version and the listings.

use std::process::{Command, Output, Stdio};

fn pseries(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pseries"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run pseries")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts status 1, nothing on stdout and exactly `stderr`.
fn refused(args: &[&str], stderr: &str) {
    let out = pseries(args);
    assert_eq!(text(&out.stderr), stderr, "stderr of {args:?}");
    assert_eq!(out.status.code(), Some(1), "status of {args:?}");
    assert_eq!(text(&out.stdout), "", "stdout of {args:?}");
}

/// A file that exists, for the options that need one.
fn existing_file() -> String {
    env!("CARGO_BIN_EXE_pseries").to_string()
}

#[test]
fn unknown_options() {
    refused(&["-foo"], "pseries: -foo: invalid option\n");
    refused(&["--foo"], "pseries: --foo: invalid option\n");
    refused(&["-"], "pseries: -: invalid option\n");
    refused(&["--"], "pseries: --: invalid option\n");
    refused(
        &["disk.img"],
        "pseries: disk.img: disk images are not supported (the pseries machine here has no block devices)\n",
    );
    refused(
        &["-d", "in_asm"],
        "pseries: -d in_asm: QEMU's debug log (-d/-D) is not supported by pseries-rs\n",
    );
}

#[test]
fn options_missing_their_argument() {
    for opt in [
        "-machine",
        "-M",
        "-cpu",
        "-smp",
        "-m",
        "-bios",
        "-kernel",
        "-initrd",
        "-append",
        "-display",
        "-serial",
        "-monitor",
        "-chardev",
        "-mon",
        "-qmp",
        "-incoming",
        "-accel",
        "-rtc",
        "-icount",
        "--machine",
        "--smp",
    ] {
        refused(&[opt], &format!("pseries: {opt}: requires an argument\n"));
    }
}

#[test]
fn bad_machine_options() {
    refused(
        &["-M", "bogus"],
        "pseries: unsupported machine type\nUse -machine help to list supported machines\n",
    );
    refused(
        &["-M", "pseries,foo"],
        "pseries: -M pseries,foo: Expected '=' after parameter 'foo'\n",
    );
    refused(
        &["-machine", "pseries,,x=1"],
        "pseries: -machine pseries,,x=1: Invalid parameter ''\n",
    );
    refused(
        &["-M", "pseries-7.2,foo=1"],
        "pseries: Property 'pseries-7.2-machine.foo' not found\n",
    );
    refused(
        &["-M", "pseries-7.2", "-machine", "foo=1"],
        "pseries: Property 'pseries-7.2-machine.foo' not found\n",
    );
    refused(
        &["-M", "pseries-7.2,ic-mode=bogus"],
        "pseries: Bad value for \"ic-mode\" property\n",
    );
    refused(
        &["-M", "pseries-3.0,ic-mode=xics"],
        "pseries: This machine only uses the legacy XICS backend, don't pass ic-mode\n",
    );
    refused(
        &["-M", "pseries-7.2,cap-cfpc=bogus"],
        "pseries: Invalid capability mode \"bogus\" for cap-cfpc\n",
    );
    refused(
        &["-M", "pseries-7.2,cap-htm=bogus"],
        "pseries: Parameter 'cap-htm' expects 'on' or 'off'\n",
    );
    refused(
        &["-M", "pseries-7.2,ic-mode=xive", "-cpu", "POWER8"],
        "pseries: XIVE-only machines require a POWER9 CPU\n",
    );
    refused(
        &["-M", "pseries-7.2,max-cpu-compat=bogus"],
        "pseries: Invalid compatibility mode \"bogus\"\n",
    );
}

#[test]
fn bad_cpu_smp_and_memory() {
    refused(
        &["-cpu", "foo"],
        "pseries: unable to find CPU model 'foo'\n",
    );
    refused(
        &["-smp", "4097"],
        "pseries: Invalid SMP CPUs 4097. The max CPUs supported by machine 'pseries-11.0' is 4096\n",
    );
    refused(
        &["-smp", "4,maxcpus=2"],
        "pseries: Invalid CPU topology: maxcpus must be equal to or greater than smp: sockets (1) * cores (2) * threads (1) == maxcpus (2) < smp_cpus (4)\n",
    );
    // The texts of these come from spapr_machine::config.
    for (args, needle) in [
        (&["-smp", "x"][..], "'cpus'"),
        (&["-smp", "2,foo=1"][..], "'foo'"),
        (&["-m", "1x"][..], "1x"),
        (
            &["-m", "3000"][..],
            "Memory size 0xbb800000 is not aligned to 256 MiB",
        ),
    ] {
        let out = pseries(args);
        let err = text(&out.stderr);
        assert!(
            err.starts_with("pseries: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
}

#[test]
fn bad_accelerator_display_rtc_icount() {
    refused(
        &["-accel", "foo"],
        "pseries: -accel foo: invalid accelerator foo\n",
    );
    if !cfg!(target_arch = "powerpc64") {
        refused(
            &["-accel", "kvm"],
            "pseries: -accel kvm: invalid accelerator kvm\n",
        );
        refused(
            &["-enable-kvm"],
            "pseries: -enable-kvm: invalid accelerator kvm\n",
        );
        refused(
            &["-machine", "accel=kvm"],
            "pseries: invalid accelerator kvm\n",
        );
        // QEMU falls back to the next accelerator; the machine error then
        // shows the run got past the choice.
        refused(
            &["-accel", "kvm", "-accel", "tcg", "-M", "bogus"],
            "pseries: -accel kvm: invalid accelerator kvm\npseries: falling back to tcg\n\
             pseries: unsupported machine type\nUse -machine help to list supported machines\n",
        );
    }
    refused(
        &["-accel", "tcg,thread=foo"],
        "pseries: -accel tcg,thread=foo: Invalid 'thread' setting foo\n",
    );
    refused(
        &["-accel", "tcg,bogus=1"],
        "pseries: -accel tcg,bogus=1: Property 'tcg-accel.bogus' not found\n",
    );
    refused(
        &["-display", "gtk"],
        "pseries: -display gtk: Parameter 'type' does not accept value 'gtk'\n",
    );
    refused(
        &["-display", "none,foo=1"],
        "pseries: -display none,foo=1: Parameter 'foo' is unexpected\n",
    );
    refused(
        &["-rtc", "base=bogus"],
        "pseries: invalid datetime format\nvalid formats: '2006-06-17T16:01:21' or '2006-06-17'\n",
    );
    refused(
        &["-rtc", "foo=1"],
        "pseries: -rtc foo=1: Invalid parameter 'foo'\n",
    );
    refused(
        &["-rtc", "clock=bogus"],
        "pseries: -rtc clock=bogus: invalid option value 'bogus'\n",
    );
    refused(
        &["-icount", "shift=x"],
        "pseries: -icount shift=x: icount: Invalid shift value\n",
    );
    refused(
        &["-icount", "shift=5,foo=1"],
        "pseries: -icount shift=5,foo=1: Invalid parameter 'foo'\n",
    );
}

#[test]
fn bad_chardevs_and_monitors() {
    refused(
        &["-serial", "foo"],
        "pseries: -serial foo: 'foo' is not a valid char driver\n\
         pseries: -serial foo: could not connect serial device to character backend 'foo'\n",
    );
    refused(
        &["-nodefaults", "-serial", "chardev:nope"],
        "pseries: -serial chardev:nope: could not connect serial device to character backend 'chardev:nope'\n",
    );
    refused(
        &["-monitor", "foo"],
        "pseries: -monitor foo: 'foo' is not a valid char driver\npseries: -monitor foo: parse error: foo\n",
    );
    refused(
        &["-qmp", "unix"],
        "pseries: -qmp unix: 'unix' is not a valid char driver\npseries: -qmp unix: parse error: unix\n",
    );
    refused(
        &["-chardev", "foo"],
        "pseries: -chardev foo: chardev: no id specified\n",
    );
    refused(
        &["-chardev", "socket"],
        "pseries: -chardev socket: chardev: no id specified\n",
    );
    refused(
        &["-chardev", "bogus,id=a"],
        "pseries: -chardev bogus,id=a: 'bogus' is not a valid char driver name\n",
    );
    refused(
        &["-chardev", "socket,id=a"],
        "pseries: -chardev socket,id=a: chardev: socket: no host given\n",
    );
    refused(
        &["-chardev", "socket,id=a,path=/tmp/x.sock,server=on,wait=off,foo=bar"],
        "pseries: -chardev socket,id=a,path=/tmp/x.sock,server=on,wait=off,foo=bar: Invalid parameter 'foo'\n",
    );
    refused(
        &["-chardev", "null,id=a", "-chardev", "null,id=a"],
        "pseries: -chardev null,id=a: Duplicate ID 'a' for chardev\n",
    );
    refused(
        &["-nodefaults", "-chardev", "socket,id=a,path=/nonexistent-dir/q.sock,server=on,wait=off"],
        "pseries: -chardev socket,id=a,path=/nonexistent-dir/q.sock,server=on,wait=off: Failed to bind socket to /nonexistent-dir/q.sock: No such file or directory\n",
    );
    refused(
        &["-nodefaults", "-qmp", "unix:/nonexistent-dir/q.sock"],
        "pseries: -qmp unix:/nonexistent-dir/q.sock: Failed to connect to '/nonexistent-dir/q.sock': No such file or directory\n",
    );
    refused(
        &["-mon", "chardev=nope"],
        "pseries: -mon chardev=nope: chardev \"nope\" not found\n",
    );
    refused(
        &["-mon", "mode=control"],
        "pseries: -mon mode=control: Parameter 'chardev' is missing\n",
    );
    refused(
        &["-mon", "chardev=a,mode=bogus"],
        "pseries: -mon chardev=a,mode=bogus: Parameter 'mode' does not accept value 'bogus'\n",
    );
    refused(
        &["-mon", "chardev=a,foo=1"],
        "pseries: -mon chardev=a,foo=1: Invalid parameter 'foo'\n",
    );
    refused(
        &["-nodefaults", "-monitor", "stdio", "-serial", "stdio"],
        "pseries: -serial stdio: cannot use stdio by multiple character devices\n\
         pseries: -serial stdio: could not connect serial device to character backend 'stdio'\n",
    );
}

#[test]
fn bad_incoming_and_files() {
    refused(
        &["-incoming", "foo:bar"],
        "pseries: -incoming foo:bar: unknown migration protocol: foo:bar\n",
    );
    let out = pseries(&["-incoming", "exec:cat"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr)
        .starts_with("pseries: -incoming exec:cat: migration protocol 'exec' is not supported"));
    refused(
        &["-kernel", "/nonexistent/guest.elf"],
        "pseries: could not load kernel '/nonexistent/guest.elf'\n",
    );
    refused(
        &["-bios", "/nonexistent/boot.bin"],
        "pseries: Could not find LPAR firmware '/nonexistent/boot.bin'\n",
    );
    refused(
        &["-initrd", &existing_file()],
        "pseries: -initrd only allowed with -kernel option\n",
    );
    refused(
        &["-append", "console=hvc0"],
        "pseries: -append only allowed with -kernel option\n",
    );
    refused(
        &[
            "-kernel",
            &existing_file(),
            "-initrd",
            "/nonexistent/initrd",
        ],
        "pseries: could not load initial ram disk '/nonexistent/initrd'\n",
    );
}

#[test]
fn help_names_every_option_and_qemu() {
    for flag in ["-h", "-help", "--help"] {
        let out = pseries(&[flag, "-bogus-after-help"]);
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        assert!(help.contains("QEMU"), "scripts look for QEMU");
        assert!(help.contains("qemu-system-ppc64"));
        assert!(help
            .lines()
            .next()
            .unwrap()
            .contains("QEMU emulator version 7.2.0"));
        for opt in [
            "-machine",
            "-M ",
            "-cpu",
            "-smp",
            "-m ",
            "-bios",
            "-kernel",
            "-initrd",
            "-append",
            "-nodefaults",
            "-nographic",
            "-display none",
            "-serial",
            "-monitor",
            "-chardev",
            "-mon ",
            "-qmp",
            "-incoming",
            "-S ",
            "-accel",
            "-rtc",
            "-no-reboot",
            "-version",
            "dumpdtb",
            "'-machine help'",
            "'-cpu help'",
        ] {
            assert!(help.contains(opt), "{opt} missing from -h");
        }
    }
}

#[test]
fn version() {
    for flag in ["-version", "--version"] {
        let out = pseries(&[flag]);
        assert_eq!(out.status.code(), Some(0));
        let v = text(&out.stdout);
        assert!(
            v.starts_with(&format!(
                "pseries-rs version {} (compatible with QEMU emulator version 7.2.0 options)\n",
                env!("CARGO_PKG_VERSION")
            )),
            "{v}"
        );
    }
}

#[test]
fn machine_listing() {
    for arg in ["help", "?", "pseries,help"] {
        let out = pseries(&["-machine", arg]);
        assert_eq!(out.status.code(), Some(0), "{arg}");
        assert_eq!(text(&out.stderr), "");
        let listing = text(&out.stdout);
        if arg == "pseries,help" {
            assert!(
                listing.starts_with("pseries-11.0-machine options:\n"),
                "{listing}"
            );
        } else {
            assert!(listing.starts_with("Supported machines are:\n"));
            assert!(
                listing.lines().any(|l| l.starts_with("pseries ")),
                "the harness looks for pseries"
            );
            assert!(listing.contains("pseries-7.2 "));
            assert!(listing.contains("(default)"));
        }
    }
    let out = pseries(&["-M", "pseries-4.1", "-machine", "help"]);
    assert!(text(&out.stdout).starts_with("Supported machines are:\n"));
    let out = pseries(&["-M", "pseries-7.2,help"]);
    assert_eq!(out.status.code(), Some(0));
    let props = text(&out.stdout);
    for line in [
        "pseries-7.2-machine options:",
        "  cap-htm=<bool>         - Allow Hardware Transactional Memory (HTM) (default: false)",
        "  ic-mode=<string>       - Specifies the interrupt controller mode (xics, xive, dual) (default: \"dual\")",
        "  dumpdtb=<string>       - Dump current dtb to a file and quit",
        "  max-cpu-compat=<string> - Maximum permitted CPU compatibility mode",
    ] {
        assert!(props.lines().any(|l| l == line), "{line:?} missing:\n{props}");
    }
    let out = pseries(&["-M", "bogus,help"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "pseries: unsupported machine type\nUse -machine help to list supported machines\n"
    );
}

#[test]
fn cpu_and_accel_listings() {
    for arg in ["help", "?"] {
        let out = pseries(&["-cpu", arg]);
        assert_eq!(out.status.code(), Some(0));
        let list = text(&out.stdout);
        assert!(
            list.lines()
                .any(|l| l.starts_with("PowerPC power9_v2.0") && l.contains("PVR 004e1200")),
            "{list}"
        );
        assert!(list
            .lines()
            .any(|l| l.starts_with("PowerPC power9 ") && l.contains("(alias for power9_v2.0)")));
    }
    let out = pseries(&["-accel", "help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("Accelerators supported in QEMU binary:\ntcg\n"));
}

#[test]
fn sigterm_while_waiting_for_a_qmp_client_ends_cleanly() {
    let path = std::env::temp_dir().join(format!("pseries-cli-{}-wait.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let spec = format!("unix:{},server=on", path.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_pseries"))
        .args(["-nodefaults", "-qmp", &spec])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The socket exists once the program waits for its client (wait=on).
    while !path.exists() {
        assert!(child.try_wait().unwrap().is_none(), "pseries ended early");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill with a valid signal on the child this test spawned.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(
        err.lines().next().unwrap(),
        format!("pseries: -qmp {spec}: info: pseries waiting for connection on: disconnected:unix:{},server=on", path.display())
    );
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("pseries: terminating on signal 15 from pid "),
        "{last}"
    );
    assert!(!path.exists(), "the socket file is removed at exit");
}
