//! Migration downtime and stream size of a running guest (issue 9): the
//! `migrate` guest on a `pseries` machine (dual `ic-mode`, both
//! controllers built and migrated) with 256 MiB of RAM and 4 vCPUs runs
//! to its `WAIT: migrate` prompt; then the source is paused, saved into a
//! unix socket, loaded by a second machine on the other end, and started.
//!
//! Downtime is the time from the source's pause to the destination
//! running (both in this process, so one clock); the stream size is the
//! bytes that went through the socket. The destination then gets the key
//! the guest waits for, and the run only counts if the guest finds all of
//! its interrupt state and memory intact (`EXIT: STATUS=1`).
//!
//! Output, one line per run, read by `cargo xtask bench-compare`:
//! `PERF migration <mode> downtime_us=<n> bytes=<n> pause_us=<n> save_us=<n>
//! load_us=<n> ok=<0|1>` (the phases are times from the pause request).
//!
//! Options: `--runs N` (default 1), `--append WORDS` (the guest's `-append`,
//! `xics` makes it negotiate XICS), `-m SIZE`, `-smp N`.

use std::io::{self, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spapr_machine::config::{ConfigRequest, MachineConfig};
use spapr_machine::control::ExitReason;
use spapr_machine::machine::{BootConfig, Image, Machine};

use intc_xics as _;
use intc_xive as _;

/// Counts the bytes written through it.
struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct Setup {
    memory: String,
    smp: String,
    append: String,
}

fn machine(s: &Setup) -> Result<Arc<Machine>, String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../guests/images");
    let read = |name: &str| -> Result<Image, String> {
        let path = format!("{dir}/{name}");
        let data = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
        Ok(Image { path, data })
    };
    let cfg = MachineConfig::new(&ConfigRequest {
        machine: vec!["pseries".into()],
        smp: Some(s.smp.clone()),
        ram: Some(s.memory.clone()),
        console: true,
        ..Default::default()
    })
    .map_err(|e| e.to_string())?;
    Machine::new(
        cfg,
        BootConfig {
            firmware: Some(read("firmware.bin")?),
            kernel: Some(read("migrate.elf")?),
            append: s.append.clone(),
            ..Default::default()
        },
        None,
    )
    .map_err(|e| e.to_string())
}

fn wait_for(m: &Machine, line: &str, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    while !String::from_utf8_lossy(&m.transcript()).contains(line) {
        if start.elapsed() > limit || m.is_finished() {
            return Err(format!(
                "no '{line}' on the console:\n{}",
                String::from_utf8_lossy(&m.transcript())
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// Runs the guest until it powers off; returns its console.
fn finish(m: &Arc<Machine>, limit: Duration) -> (ExitReason, String) {
    let watchdog = {
        let m = Arc::clone(m);
        std::thread::spawn(move || {
            let start = Instant::now();
            while !m.is_finished() {
                if start.elapsed() > limit {
                    m.request_exit(ExitReason::Error("time limit".into()));
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let reason = m.run_until_exit();
    let _ = watchdog.join();
    (
        reason,
        String::from_utf8_lossy(&m.transcript()).into_owned(),
    )
}

struct Measured {
    downtime: Duration,
    /// From the pause request to every vCPU parked.
    paused: Duration,
    /// From the pause request to the destination loaded.
    loaded: Duration,
    save: Duration,
    bytes: u64,
    ok: bool,
}

fn one_run(s: &Setup, dir: &std::path::Path, run: usize) -> Result<Measured, String> {
    let src = machine(s)?;
    src.start(false);
    wait_for(&src, "WAIT: migrate", Duration::from_secs(60))?;
    // The destination exists (as QEMU's does with -incoming) before the
    // migration starts; it is not part of the downtime.
    let dst = machine(s)?;
    let path = dir.join(format!("mig{run}"));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| e.to_string())?;

    let t0 = Instant::now();
    src.pause();
    let paused = t0.elapsed();
    let sender = {
        let src = Arc::clone(&src);
        let path = path.clone();
        std::thread::spawn(move || -> Result<(u64, Duration), String> {
            let sock = UnixStream::connect(&path).map_err(|e| e.to_string())?;
            let w = CountingWriter {
                inner: io::BufWriter::with_capacity(1 << 20, sock),
                bytes: 0,
            };
            let mut w = src.save_state(w).map_err(|e| e.to_string())?;
            w.flush().map_err(|e| e.to_string())?;
            Ok((w.bytes, t0.elapsed()))
        })
    };
    let (conn, _) = listener.accept().map_err(|e| e.to_string())?;
    let reader = io::BufReader::with_capacity(1 << 20, conn);
    dst.load_state(reader).map_err(|e| e.to_string())?;
    let loaded = t0.elapsed();
    dst.start(false);
    let downtime = t0.elapsed();
    let (bytes, save) = sender.join().map_err(|_| "sender panicked")??;
    // The source is done: end it as QEMU's `quit` does.
    src.request_exit(ExitReason::Quit);
    src.run_until_exit();

    dst.console_input(b"k");
    let (reason, out) = finish(&dst, Duration::from_secs(120));
    let ok = reason == ExitReason::PowerOff && out.contains("EXIT: STATUS=1");
    if !ok {
        eprintln!("migration: the guest did not pass after the move ({reason:?}):\n{out}");
    }
    Ok(Measured {
        downtime,
        paused,
        loaded,
        save,
        bytes,
        ok,
    })
}

fn main() -> ExitCode {
    let mut s = Setup {
        memory: "256M".into(),
        smp: "4".into(),
        append: String::new(),
    };
    let mut runs = 1usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_default();
        match a.as_str() {
            "--runs" => runs = value().parse().unwrap_or(1),
            "--append" => s.append = value(),
            "-m" => s.memory = value(),
            "-smp" => s.smp = value(),
            // cargo bench / cargo test pass their own flags.
            _ => {}
        }
    }
    let mode = if s.append.split_whitespace().any(|w| w == "xics") {
        "xics"
    } else {
        "xive"
    };
    let dir = std::env::temp_dir().join(format!("pseries-mig-bench-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("migration: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let mut status = ExitCode::SUCCESS;
    for run in 0..runs {
        match one_run(&s, &dir, run) {
            Ok(r) => {
                println!(
                    "PERF migration {mode} downtime_us={} bytes={} pause_us={} save_us={} load_us={} ok={}",
                    r.downtime.as_micros(),
                    r.bytes,
                    r.paused.as_micros(),
                    r.save.as_micros(),
                    r.loaded.as_micros(),
                    u8::from(r.ok)
                );
                if !r.ok {
                    status = ExitCode::FAILURE;
                }
            }
            Err(e) => {
                eprintln!("migration: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    status
}
