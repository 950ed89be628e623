//! The console on a real terminal: a pseudo-terminal is the stdin/stdout of
//! a child process (this test binary, re-run as `tty_child`) that opens the
//! front ends from a command line and runs a stand-in guest echoing its
//! console input in upper case. Checked: raw mode (input arrives without a
//! newline and the terminal does not echo), the terminal restored at exit,
//! and the `-nographic` mux (Ctrl-A c to the monitor and back, Ctrl-A x).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use pseries::io::Frontends;
use pseries::monitor::{CpuSummary, MigrationInfo, ResetAction, RunStatus, VmControl};
use pseries::options::{self, frontends, Parsed};

/// Only a guard against a hung test: no assertion depends on time.
const HANG_GUARD_MS: i32 = 60_000;
const ARGS_VAR: &str = "PSERIES_TTY_CHILD_ARGS";

/// The child's machine stand-in: always running; `quit` ends the process
/// the way the real program ends.
struct StandIn;

impl VmControl for StandIn {
    fn status(&self) -> RunStatus {
        RunStatus::Running
    }
    fn stop(&self) {}
    fn cont(&self) -> Result<(), String> {
        Ok(())
    }
    fn system_reset(&self) -> ResetAction {
        ResetAction::Reset
    }
    fn system_powerdown(&self) {}
    fn quit(&self) {
        pseries::exit::terminate(0);
    }
    fn migrate(&self, _uri: &str) -> Result<(), String> {
        Err("no machine in this test".into())
    }
    fn migrate_info(&self) -> MigrationInfo {
        MigrationInfo::none()
    }
    fn migrate_incoming(&self, _uri: &str) -> Result<(), String> {
        Err("no machine in this test".into())
    }
    fn info_pic(&self) -> String {
        String::new()
    }
    fn cpus(&self) -> Vec<CpuSummary> {
        Vec::new()
    }
    fn info_capabilities(&self) -> String {
        String::new()
    }
}

/// The child: runs only when re-executed by a test below.
#[test]
#[ignore = "run by the other tests in a child process on a pseudo-terminal"]
fn tty_child() {
    let Ok(args) = std::env::var(ARGS_VAR) else {
        return;
    };
    let args: Vec<&str> = args.split('\u{1f}').collect();
    let Parsed::Run(opts) = options::parse(args).unwrap() else {
        panic!("not a run")
    };
    let plan = frontends::plan(&opts).unwrap();
    let mut io = Frontends::open(&plan, "pseries").unwrap();
    io.start_monitors(Arc::new(StandIn)).unwrap();
    let port = io.serial().unwrap();
    port.write(b"READY\n");
    let mut buf = [0u8; 64];
    loop {
        let n = port.read(&mut buf);
        if n == 0 {
            // The stand-in guest polls its console, as guests poll
            // H_GET_TERM_CHAR.
            thread::sleep(Duration::from_millis(1));
            continue;
        }
        if buf[..n].contains(&b'!') {
            pseries::exit::terminate(0);
        }
        port.write(&buf[..n].to_ascii_uppercase());
    }
}

struct Pty {
    master: File,
    slave: OwnedFd,
}

fn open_pty() -> Pty {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: both out-pointers are valid; null name/termios/winsize are
    // allowed by openpty.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty");
    // SAFETY: openpty returned two new descriptors owned by nobody else.
    unsafe {
        Pty {
            master: File::from_raw_fd(master),
            slave: OwnedFd::from_raw_fd(slave),
        }
    }
}

fn lflag(fd: &OwnedFd) -> libc::tcflag_t {
    // SAFETY: termios is plain data; tcgetattr fills it for a valid fd.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is an open terminal descriptor and `t` is writable.
    assert_eq!(unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) }, 0);
    t.c_lflag
}

fn spawn_child(pty: &Pty, args: &[&str]) -> Child {
    let io = || Stdio::from(pty.slave.try_clone().unwrap());
    Command::new(std::env::current_exe().unwrap())
        .args([
            "tty_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(ARGS_VAR, args.join("\u{1f}"))
        .env("RUST_BACKTRACE", "0")
        .stdin(io())
        .stdout(io())
        .stderr(io())
        .spawn()
        .unwrap()
}

/// Reads the master until `needle` has been seen; returns what was read.
fn read_until(master: &mut File, seen: &mut String, needle: &str) -> String {
    let mut buf = [0u8; 512];
    while !seen.contains(needle) {
        let mut pfd = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, HANG_GUARD_MS) };
        assert!(r > 0, "no {needle:?} from the child; got {seen:?}");
        let n = master.read(&mut buf).unwrap_or(0);
        assert!(n > 0, "terminal closed before {needle:?}; got {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        // The monitor writes \r\n and the terminal's output processing
        // (kept on, as QEMU keeps it) makes that \r\r\n; compare lines.
        *seen = seen.replace("\r\r\n", "\r\n");
    }
    let at = seen.find(needle).unwrap() + needle.len();
    let out = seen[..at].to_string();
    seen.drain(..at);
    out
}

#[test]
fn serial_stdio_is_raw_and_restored() {
    let mut pty = open_pty();
    let before = lflag(&pty.slave);
    assert_ne!(
        before & libc::ICANON,
        0,
        "a new pty starts in canonical mode"
    );
    let mut child = spawn_child(&pty, &["-nodefaults", "-serial", "stdio"]);
    let mut seen = String::new();
    read_until(&mut pty.master, &mut seen, "READY\r\n");
    let raw = lflag(&pty.slave);
    assert_eq!(
        raw & (libc::ICANON | libc::ECHO),
        0,
        "raw mode while running"
    );
    assert_ne!(raw & libc::ISIG, 0, "-serial stdio keeps Ctrl-C a signal");
    // No newline: raw mode delivers at once; no local echo of "abc".
    pty.master.write_all(b"abc").unwrap();
    let got = read_until(&mut pty.master, &mut seen, "ABC");
    assert!(!got.contains("abc"), "the terminal echoed: {got:?}");
    pty.master.write_all(b"!").unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(lflag(&pty.slave), before, "terminal restored at exit");
}

#[test]
fn nographic_mux_switches_between_console_and_monitor() {
    let mut pty = open_pty();
    let before = lflag(&pty.slave);
    let mut child = spawn_child(&pty, &["-nographic"]);
    let mut seen = String::new();
    read_until(&mut pty.master, &mut seen, "READY\r\n");
    assert_eq!(
        lflag(&pty.slave) & libc::ISIG,
        0,
        "-nographic passes Ctrl-C to the guest"
    );
    pty.master.write_all(b"x").unwrap();
    read_until(&mut pty.master, &mut seen, "X");
    pty.master.write_all(b"\x01c").unwrap();
    read_until(
        &mut pty.master,
        &mut seen,
        "monitor - type 'help' for more information\r\n(qemu) ",
    );
    pty.master.write_all(b"info status\r").unwrap();
    // The monitor echoes what is typed on a terminal, then answers.
    read_until(
        &mut pty.master,
        &mut seen,
        "info status\r\nVM status: running\r\n(qemu) ",
    );
    pty.master.write_all(b"\x01c").unwrap();
    pty.master.write_all(b"y").unwrap();
    let got = read_until(&mut pty.master, &mut seen, "Y");
    assert!(!got.contains('y'), "{got:?}");
    pty.master.write_all(b"\x01h").unwrap();
    read_until(&mut pty.master, &mut seen, "C-a x    exit emulator\r\n");
    pty.master.write_all(b"\x01x").unwrap();
    read_until(&mut pty.master, &mut seen, "pseries: Terminated\r\n");
    assert!(child.wait().unwrap().success());
    assert_eq!(lflag(&pty.slave), before, "terminal restored at exit");
}

#[test]
fn monitor_quit_on_the_mux_ends_the_program() {
    let mut pty = open_pty();
    let mut child = spawn_child(&pty, &["-nographic"]);
    let mut seen = String::new();
    read_until(&mut pty.master, &mut seen, "READY\r\n");
    pty.master.write_all(b"\x01c").unwrap();
    read_until(&mut pty.master, &mut seen, "(qemu) ");
    pty.master.write_all(b"quit\r").unwrap();
    assert!(child.wait().unwrap().success());
}
