//! Driving one VM process with QEMU's command line (`qemu-system-ppc64`,
//! our `pseries`, or the in-process bench harness): console on stdio, a
//! QMP socket, and the guests' `WAIT:` protocol (guests/README.md).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

/// What to boot and how.
#[derive(Debug, Clone)]
pub(crate) struct VmSpec {
    /// `-M` value.
    pub machine: String,
    /// `-smp`.
    pub smp: u32,
    /// `-m`.
    pub memory: String,
    /// `-bios`.
    pub bios: PathBuf,
    /// `-kernel`.
    pub kernel: PathBuf,
    /// `-append` (empty: none).
    pub append: String,
}

impl VmSpec {
    /// QEMU's options for this VM, with QMP on `qmp` and, for a migration
    /// destination, `-incoming unix:<incoming>`.
    pub fn args(&self, qmp: &Path, incoming: Option<&Path>) -> Vec<String> {
        let mut a: Vec<String> = [
            "-M",
            &self.machine,
            "-accel",
            "tcg",
            "-smp",
            &self.smp.to_string(),
            "-m",
            &self.memory,
            "-nodefaults",
            "-display",
            "none",
            "-serial",
            "stdio",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push("-bios".into());
        a.push(self.bios.display().to_string());
        a.push("-kernel".into());
        a.push(self.kernel.display().to_string());
        if !self.append.is_empty() {
            a.push("-append".into());
            a.push(self.append.clone());
        }
        a.push("-qmp".into());
        a.push(format!("unix:{},server=on,wait=off", qmp.display()));
        if let Some(i) = incoming {
            a.push("-incoming".into());
            a.push(format!("unix:{}", i.display()));
        }
        a
    }
}

/// A minimal QMP client; events met while waiting for replies are kept.
pub(crate) struct Qmp {
    out: UnixStream,
    lines: BufReader<UnixStream>,
    /// Events received so far, in order.
    pub events: Vec<Value>,
}

impl Qmp {
    /// Connects (retrying until `deadline`) and negotiates capabilities.
    pub fn connect(path: &Path, deadline: Instant) -> Result<Self> {
        let sock = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => {
                    return Err(e).with_context(|| format!("QMP {}", path.display()))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let mut q = Self {
            out: sock.try_clone()?,
            lines: BufReader::new(sock),
            events: Vec::new(),
        };
        q.read()?; // greeting
        q.cmd("qmp_capabilities", json!({}))?;
        Ok(q)
    }

    fn read(&mut self) -> Result<Value> {
        let mut line = String::new();
        if self.lines.read_line(&mut line)? == 0 {
            bail!("QMP connection closed");
        }
        Ok(serde_json::from_str(&line)?)
    }

    /// Runs `name` with `args`; returns the `return` value.
    pub fn cmd(&mut self, name: &str, args: Value) -> Result<Value> {
        let mut msg = json!({ "execute": name });
        if args.as_object().is_some_and(|o| !o.is_empty()) {
            msg["arguments"] = args;
        }
        writeln!(self.out, "{msg}")?;
        loop {
            let v = self.read()?;
            if let Some(r) = v.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = v.get("error") {
                bail!("QMP {name}: {e}");
            }
            if v.get("event").is_some() {
                self.events.push(v);
            }
        }
    }

    /// Reads whatever events arrive within `wait`.
    pub fn poll_events(&mut self, wait: Duration) -> Result<()> {
        self.out.set_read_timeout(Some(wait))?;
        self.lines.get_ref().set_read_timeout(Some(wait))?;
        let r = self.read();
        self.lines.get_ref().set_read_timeout(None)?;
        match r {
            Ok(v) if v.get("event").is_some() => self.events.push(v),
            Ok(_) => {}
            Err(e) => {
                let timeout = e.downcast_ref::<std::io::Error>().is_some_and(|io| {
                    matches!(
                        io.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    )
                });
                if !timeout {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Host time (µs since the epoch) of the first event called `name`.
    pub fn event_time_us(&self, name: &str) -> Option<u64> {
        self.event_time_us_where(name, |_| true)
    }

    /// Host time of the first event called `name` whose data passes `f`.
    pub fn event_time_us_where(&self, name: &str, f: impl Fn(&Value) -> bool) -> Option<u64> {
        self.events
            .iter()
            .find(|e| e["event"] == name && f(&e["data"]))
            .and_then(|e| {
                let t = &e["timestamp"];
                Some(t["seconds"].as_u64()? * 1_000_000 + t["microseconds"].as_u64()?)
            })
    }
}

/// A running VM process.
pub(crate) struct Vm {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Dropped with the Vm: ends a counted input stream's wait, which
    /// closes the console input.
    stream_hold: Option<mpsc::Sender<()>>,
    lines: Receiver<String>,
    /// Everything the console printed, line by line.
    pub transcript: Vec<String>,
    /// The QMP socket path.
    pub qmp_path: PathBuf,
    /// When the process was spawned.
    pub started: Instant,
}

impl Vm {
    /// Starts `program args`, with stderr to `stderr_file`.
    pub fn spawn(program: &Path, args: &[String], qmp: &Path, stderr_file: &Path) -> Result<Self> {
        let err = std::fs::File::create(stderr_file)?;
        let started = Instant::now();
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(Self {
            stdin: child.stdin.take(),
            stream_hold: None,
            child,
            lines: rx,
            transcript: Vec::new(),
            qmp_path: qmp.to_path_buf(),
            started,
        })
    }

    /// Writes to the console.
    pub fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let s = self
            .stdin
            .as_mut()
            .ok_or_else(|| anyhow!("console closed"))?;
        s.write_all(bytes)?;
        s.flush()?;
        Ok(())
    }

    /// Hands the console input to a thread that writes `byte` without
    /// pause (the `WAIT: stream` protocol): `total` bytes when the guest
    /// said how many it reads, else until the VM stops reading. After a
    /// counted stream the console stays open, so the guest sees no
    /// end-of-file, only an input that stops.
    pub fn stream_input(&mut self, byte: u8, total: Option<u64>) {
        const CHUNK: usize = 4096;
        if let Some(mut s) = self.stdin.take() {
            let (tx, hold) = mpsc::channel::<()>();
            self.stream_hold = Some(tx);
            std::thread::spawn(move || {
                let chunk = [byte; CHUNK];
                let mut left = total.unwrap_or(u64::MAX);
                while left > 0 {
                    let n = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
                    if s.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    left = left.saturating_sub(n as u64);
                }
                let _ = s.flush();
                // Keep the write end open until the Vm is dropped (its
                // sender goes away).
                let _ = hold.recv();
            });
        }
    }

    /// The next console line, `None` at end of output, `Err` on timeout.
    pub fn next_line(&mut self, deadline: Instant) -> Result<Option<String>> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(wait) {
            Ok(l) => {
                self.transcript.push(l.clone());
                Ok(Some(l))
            }
            Err(RecvTimeoutError::Disconnected) => Ok(None),
            Err(RecvTimeoutError::Timeout) => bail!("timed out"),
        }
    }

    /// Waits for the process to end (killing it after `deadline`).
    pub fn wait(&mut self, deadline: Instant) -> Result<i32> {
        loop {
            if let Some(st) = self.child.try_wait()? {
                return Ok(st.code().unwrap_or(128));
            }
            if Instant::now() > deadline {
                self.kill();
                bail!("VM did not exit in time");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Kills the process.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Runs the guest to its end, acting on `WAIT:` lines (key, powerdown,
    /// migrate without a destination, stream). Returns the exit status and
    /// the wall time from spawn to exit.
    pub fn drive(&mut self, timeout: Duration) -> Result<(i32, Duration)> {
        let deadline = self.started + timeout;
        while let Some(line) = self.next_line(deadline).inspect_err(|_| self.kill())? {
            if line.starts_with("WAIT: key") || line.starts_with("WAIT: migrate") {
                self.send(b"k").context("writing a key to the console")?;
            } else if line.starts_with("WAIT: powerdown") {
                // One retry: a monitor may drop a connection made while it
                // was still starting.
                let powerdown = || -> Result<()> {
                    Qmp::connect(&self.qmp_path, deadline)?
                        .cmd("system_powerdown", json!({}))
                        .map(drop)
                };
                // A VM that already powered off took the first request
                // (it may end before its reply leaves).
                powerdown()
                    .or_else(|e| match self.child.try_wait() {
                        Ok(Some(_)) => Ok(()),
                        _ => powerdown().map_err(|_| e),
                    })
                    .context("QMP system_powerdown")?;
            } else if let Some(rest) = line.strip_prefix("WAIT: stream") {
                self.stream_input(b'k', stream_count(rest));
            }
        }
        let status = self.wait(deadline)?;
        Ok((status, self.started.elapsed()))
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// The byte count of a `WAIT: stream <count> ...` line (what follows
/// `WAIT: stream`), `None` when the guest gave none.
pub(crate) fn stream_count(rest: &str) -> Option<u64> {
    rest.split_whitespace().next()?.parse().ok()
}

/// One `TIME: BENCH <name> <cost> <unit>/op ...` line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BenchLine {
    pub name: String,
    pub cost: f64,
    pub unit: String,
}

/// The `TIME: BENCH` lines of a transcript.
pub(crate) fn bench_lines(transcript: &[String]) -> Vec<BenchLine> {
    transcript
        .iter()
        .filter_map(|l| {
            let mut w = l.strip_prefix("TIME: BENCH ")?.split_whitespace();
            let name = w.next()?.to_string();
            let cost = w.next()?.parse().ok()?;
            let unit = w.next()?.to_string();
            Some(BenchLine { name, cost, unit })
        })
        .collect()
}

/// Reads a whole file into a string (empty if missing).
pub(crate) fn read_text(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::stream_count;

    #[test]
    fn stream_count_reads_the_first_word() {
        assert_eq!(stream_count(" 100000 (characters to feed)"), Some(100000));
        assert_eq!(stream_count(" (feed console input without pause)"), None);
        assert_eq!(stream_count(""), None);
    }
}
