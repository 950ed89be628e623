//! The `pseries` program with the real machine: the demo powers off with
//! status 0, and a running guest moves between two processes through QMP
//! `migrate` over a unix socket, three times in a row; console input that
//! never stops reaches the guest in bounded memory.

#[allow(dead_code)]
mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use common::socket_path;

/// The process tests of this file run one at a time: with all four at
/// once a migration source sometimes ended on its own right after the
/// migration completed (about 1 run in 10, never with the tests run one
/// by one; open bug, see the closing note of stop 12).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn guest(name: &str) -> String {
    format!(
        "{}/../../guests/images/{name}.elf",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A `pseries` process whose console lines arrive on a channel.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    fn start(qmp: &Path, extra: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pseries"))
            .args(["-M", "pseries", "-smp", "2", "-m", "256M", "-nodefaults"])
            .args(["-display", "none", "-serial", "stdio"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp.display()))
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("pseries starts");
        let stdin = child.stdin.take().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    fn wait_line(&mut self, prefix: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.starts_with(prefix);
                    self.seen.push(l);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!(
                    "no '{prefix}' line; console so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn rest(mut self) -> (i32, Vec<String>) {
        let status = self.child.wait().unwrap().code().unwrap_or(-1);
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(l);
        }
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for Proc {
    /// A failed assertion must not leave a running `pseries` behind.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One line from the monitor (an error for a closed connection).
fn read_reply(r: &mut BufReader<UnixStream>, line: &mut String) -> std::io::Result<()> {
    line.clear();
    if r.read_line(line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Connects to the monitor and negotiates capabilities.
fn qmp_session(path: &Path) -> std::io::Result<(BufReader<UnixStream>, UnixStream)> {
    let s = UnixStream::connect(path)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut w = s;
    let mut line = String::new();
    read_reply(&mut r, &mut line)?;
    writeln!(w, r#"{{"execute":"qmp_capabilities"}}"#)?;
    loop {
        read_reply(&mut r, &mut line)?;
        if line.contains("\"return\"") {
            return Ok((r, w));
        }
    }
}

/// Runs `cmd` on a fresh QMP connection and returns its reply. A
/// connection the monitor closes before it has taken the command (seen
/// under load in CI: BrokenPipe right after the greeting or after the
/// `qmp_capabilities` reply; root cause not found yet, see the closing
/// note of stop 12) is retried twice on a new connection; a monitor that is
/// gone for good still fails the test.
fn qmp(path: &Path, cmd: &str) -> String {
    let send = || -> std::io::Result<BufReader<UnixStream>> {
        let (r, mut w) = qmp_session(path)?;
        writeln!(w, "{cmd}")?;
        Ok(r)
    };
    let mut attempt = 0;
    let mut r = loop {
        match send() {
            Ok(r) => break r,
            Err(e) if attempt < 2 && e.kind() != std::io::ErrorKind::NotFound => {
                eprintln!("QMP connection dropped before {cmd} was taken ({e}); retrying");
                attempt += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("QMP {}: {e}", path.display()),
        }
    };
    let mut reply = String::new();
    loop {
        read_reply(&mut r, &mut reply).unwrap();
        if reply.contains("\"return\"") || reply.contains("\"error\"") {
            return reply;
        }
    }
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Migrates the VM behind `src_qmp` into a new process and returns it.
fn migrate(src: Proc, src_qmp: &Path, round: u32) -> (Proc, PathBuf) {
    let sock = socket_path(&format!("mig{round}"));
    let dst_qmp = socket_path(&format!("qmp{round}"));
    let dst = Proc::start(
        &dst_qmp,
        &[
            "-kernel",
            &guest("migrate"),
            "-incoming",
            &format!("unix:{}", sock.display()),
        ],
    );
    wait_for(&sock);
    wait_for(&dst_qmp);
    let r = qmp(
        src_qmp,
        &format!(
            r#"{{"execute":"migrate","arguments":{{"uri":"unix:{}"}}}}"#,
            sock.display()
        ),
    );
    assert!(r.contains("\"return\""), "{r}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = qmp(src_qmp, r#"{"execute":"query-migrate"}"#);
        if r.contains("\"completed\"") {
            break;
        }
        assert!(!r.contains("\"failed\""), "{r}");
        assert!(Instant::now() < deadline, "migration did not complete: {r}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The destination removed its socket file once it accepted.
    assert!(!sock.exists(), "incoming socket still there");
    let r = qmp(src_qmp, r#"{"execute":"quit"}"#);
    assert!(r.contains("\"return\""), "{r}");
    let (status, _) = src.rest();
    assert_eq!(status, 0);
    // Wait until the destination runs again.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = qmp(&dst_qmp, r#"{"execute":"query-status"}"#);
        if r.contains("\"running\"") {
            break;
        }
        assert!(Instant::now() < deadline, "destination never ran: {r}");
        std::thread::sleep(Duration::from_millis(20));
    }
    (dst, dst_qmp)
}

#[test]
fn a_running_guest_moves_between_processes_three_times() {
    let _one = serial();
    let qmp0 = socket_path("qmp0");
    let mut vm = Proc::start(&qmp0, &["-kernel", &guest("migrate")]);
    vm.wait_line("WAIT: migrate");
    let mut qmp_path = qmp0;
    for round in 1..=3 {
        let (next, path) = migrate(vm, &qmp_path, round);
        vm = next;
        qmp_path = path;
    }
    vm.stdin.write_all(b"k").unwrap();
    vm.stdin.flush().unwrap();
    let (status, lines) = vm.rest();
    let text = lines.join("\n");
    assert_eq!(status, 0, "{text}");
    assert!(
        text.contains("EXIT: STATUS=1") && !text.contains("FAIL:"),
        "{text}"
    );
}

#[test]
fn the_demo_powers_off_with_status_zero() {
    let _one = serial();
    let qmp_path = socket_path("demo");
    let mut vm = Proc::start(&qmp_path, &["-kernel", &guest("demo")]);
    vm.wait_line("WAIT: key");
    vm.stdin.write_all(b"k").unwrap();
    vm.stdin.flush().unwrap();
    vm.wait_line("WAIT: powerdown");
    let r = qmp(&qmp_path, r#"{"execute":"system_powerdown"}"#);
    assert!(r.contains("\"return\""), "{r}");
    let (status, lines) = vm.rest();
    let text = lines.join("\n");
    assert_eq!(status, 0, "{text}");
    assert!(
        text.contains("SUMMARY: 6 passed, 0 failed, 0 skipped"),
        "{text}"
    );
}

/// `pseries` with one vCPU, 256 MiB, no display and the console on
/// `serial`, up to `-kernel` (the caller adds the image).
fn single_vcpu(serial: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pseries"));
    c.args([
        "-M",
        "pseries",
        "-m",
        "256M",
        "-nodefaults",
        "-display",
        "none",
        "-serial",
        serial,
        "-kernel",
    ]);
    c
}

#[test]
fn a_hung_guest_is_a_vm_failure() {
    let _one = serial();
    // Real mode, interrupts off, `b .` at the entry: nothing can ever
    // happen again.
    let dir = std::env::temp_dir().join(format!("pseries-hang-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let elf = dir.join("hang.elf");
    std::fs::write(&elf, tiny_elf(&[0x4800_0000u32.to_be_bytes()])).unwrap();
    let out = single_vcpu("null").arg(&elf).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let code = out.status.code().unwrap_or(-1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(code >= 2, "status {code}: {err}");
    assert!(err.contains("guest hang detected"), "{err}");
}

/// Peak resident memory of a running process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[test]
fn endless_console_input_from_the_start_reaches_the_guest_in_bounded_memory() {
    let _one = serial();
    // Input is written from before the machine exists and never stops, as
    // `yes k | pseries ...` does: the guest must read it through the vty
    // interrupt, and the process must not buffer what the guest has not
    // read yet.
    let mut child = single_vcpu("stdio")
        .arg(guest("bench-console"))
        .args(["-append", "n=200000 timeout=60"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = [b'k'; 65536];
        let mut written = 0u64;
        while stdin.write_all(&chunk).is_ok() {
            written += chunk.len() as u64;
        }
        written
    });
    let pid = child.id();
    let mut peak = 0;
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        peak = peak.max(rss_kib(pid).unwrap_or(0));
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the guest did not finish; peak RSS {peak} KiB");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let written = writer.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("PASS: 200000 characters read through the vty interrupt"),
        "{text}"
    );
    assert!(written > 200_000, "only {written} bytes were written");
    // The guest's RAM is touched sparsely; buffering the flood would add
    // hundreds of MiB within a second.
    assert!(peak < 200 * 1024, "peak RSS {peak} KiB");
}

/// A big-endian ELF64 (PowerPC 64) with one loadable segment holding
/// `words` at address 0, entry 0.
fn tiny_elf(words: &[[u8; 4]]) -> Vec<u8> {
    let code: Vec<u8> = words.iter().flatten().copied().collect();
    let mut e = Vec::new();
    e.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 2, 1, 0]);
    e.extend_from_slice(&[0; 8]);
    e.extend_from_slice(&2u16.to_be_bytes()); // ET_EXEC
    e.extend_from_slice(&21u16.to_be_bytes()); // EM_PPC64
    e.extend_from_slice(&1u32.to_be_bytes());
    e.extend_from_slice(&0u64.to_be_bytes()); // entry
    e.extend_from_slice(&64u64.to_be_bytes()); // phoff
    e.extend_from_slice(&0u64.to_be_bytes()); // shoff
    e.extend_from_slice(&0u32.to_be_bytes());
    e.extend_from_slice(&64u16.to_be_bytes());
    e.extend_from_slice(&56u16.to_be_bytes());
    e.extend_from_slice(&1u16.to_be_bytes());
    e.extend_from_slice(&64u16.to_be_bytes());
    e.extend_from_slice(&0u16.to_be_bytes());
    e.extend_from_slice(&0u16.to_be_bytes());
    let off = 64 + 56;
    e.extend_from_slice(&1u32.to_be_bytes()); // PT_LOAD
    e.extend_from_slice(&5u32.to_be_bytes());
    e.extend_from_slice(&(off as u64).to_be_bytes());
    e.extend_from_slice(&0u64.to_be_bytes());
    e.extend_from_slice(&0u64.to_be_bytes());
    e.extend_from_slice(&(code.len() as u64).to_be_bytes());
    e.extend_from_slice(&(code.len() as u64).to_be_bytes());
    e.extend_from_slice(&4u64.to_be_bytes());
    e.extend_from_slice(&code);
    e
}
