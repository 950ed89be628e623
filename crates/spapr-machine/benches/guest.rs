//! Runs one guest image on this machine, in-process, behind a QEMU-style
//! command line, so that `cargo xtask bench-compare` can drive it exactly
//! as it drives `qemu-system-ppc64` (issue 9) until the `pseries` binary
//! boots guests:
//!
//! ```text
//! guest -M pseries[,props] -smp N -m SIZE -bios FW -kernel ELF -append ARGS
//!       -qmp unix:PATH,server=on,wait=off   -serial stdio -nodefaults ...
//! ```
//!
//! The console is stdin/stdout (each input byte goes to the vty, as with
//! `-serial stdio`); the QMP socket answers `qmp_capabilities`,
//! `system_powerdown`, `stop`, `cont`, `query-status` and `quit`, enough for
//! the guests' `WAIT:` lines. The exit status is the machine's (0 when the
//! guest powered off).
//!
//! Run by `cargo bench` without `-kernel`, it boots `bench-hcall` and
//! `bench-ipi` with small counts, checks that they pass and prints their
//! `TIME: BENCH` lines.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use spapr_machine::config::{ConfigRequest, MachineConfig};
use spapr_machine::control::ExitReason;
use spapr_machine::machine::{BootConfig, Image, Machine};

// Link the controllers so that their registrations are in the registry.
use intc_xics as _;
use intc_xive as _;

/// What the command line asked for.
#[derive(Default)]
struct Options {
    machine: Vec<String>,
    smp: Option<String>,
    memory: Option<String>,
    bios: Option<String>,
    kernel: Option<String>,
    append: String,
    qmp: Option<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let a = a.as_str();
        // Options without a value that this harness accepts and ignores
        // (cargo passes --bench; -nodefaults and -serial stdio are how the
        // harness is wired anyway).
        if matches!(a, "--bench" | "--quick" | "--noplot" | "-nodefaults") {
            continue;
        }
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("option {a} needs a value"))
        };
        match a {
            "-M" | "-machine" => o.machine.push(value()?),
            "-smp" => o.smp = Some(value()?),
            "-m" => o.memory = Some(value()?),
            "-bios" => o.bios = Some(value()?),
            "-kernel" => o.kernel = Some(value()?),
            "-append" => o.append = value()?,
            "-qmp" => {
                let v = value()?;
                let path = v
                    .strip_prefix("unix:")
                    .and_then(|p| p.split(',').next())
                    .ok_or_else(|| format!("-qmp {v}: only unix:PATH is supported"))?;
                o.qmp = Some(path.to_string());
            }
            "-accel" => {
                let v = value()?;
                if v != "tcg" {
                    return Err(format!("-accel {v}: only tcg"));
                }
            }
            "-display" | "-serial" => {
                let v = value()?;
                if !matches!(v.as_str(), "none" | "stdio") {
                    return Err(format!("{a} {v}: only none / stdio"));
                }
            }
            other => return Err(format!("unsupported option {other}")),
        }
    }
    Ok(o)
}

fn image(path: &str) -> Result<Image, String> {
    let data = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(Image {
        path: path.to_string(),
        data,
    })
}

fn build(o: &Options, console: Box<dyn Write + Send>) -> Result<Arc<Machine>, String> {
    let machine = if o.machine.is_empty() {
        vec!["pseries".to_string()]
    } else {
        o.machine.clone()
    };
    let cfg = MachineConfig::new(&ConfigRequest {
        machine,
        smp: o.smp.clone(),
        ram: o.memory.clone(),
        console: true,
        ..Default::default()
    })
    .map_err(|e| e.to_string())?;
    let boot = BootConfig {
        firmware: o.bios.as_deref().map(image).transpose()?,
        kernel: o.kernel.as_deref().map(image).transpose()?,
        append: o.append.clone(),
        ..Default::default()
    };
    Machine::new(cfg, boot, Some(console)).map_err(|e| e.to_string())
}

/// Serves one QMP client until it disconnects.
fn qmp_client(m: &Machine, stream: UnixStream) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    writeln!(
        out,
        "{}",
        json!({"QMP": {"version": {"qemu": {"major": 0, "minor": 0, "micro": 0},
                                   "package": "pseries-rs bench harness"},
                       "capabilities": []}})
    )?;
    let values = serde_json::Deserializer::from_reader(BufReader::new(stream)).into_iter::<Value>();
    for v in values {
        let Ok(v) = v else { break };
        let cmd = v.get("execute").and_then(Value::as_str).unwrap_or("");
        let reply = match cmd {
            "qmp_capabilities" => json!({"return": {}}),
            "system_powerdown" => {
                m.powerdown();
                json!({"return": {}})
            }
            "stop" => {
                m.pause();
                json!({"return": {}})
            }
            "cont" => {
                m.resume();
                json!({"return": {}})
            }
            "query-status" => {
                let paused = m.is_paused();
                json!({"return": {"running": !paused,
                                  "status": if paused { "paused" } else { "running" }}})
            }
            "quit" => {
                writeln!(out, "{}", json!({"return": {}}))?;
                m.request_exit(ExitReason::Quit);
                return Ok(());
            }
            other => json!({"error": {"class": "CommandNotFound",
                                      "desc": format!("The command {other} has not been found")}}),
        };
        writeln!(out, "{reply}")?;
    }
    Ok(())
}

fn serve_qmp(m: Arc<Machine>, path: String) -> Result<(), String> {
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| format!("-qmp {path}: {e}"))?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = qmp_client(&m, stream);
        }
    });
    Ok(())
}

/// Copies stdin to the console for as long as there is input.
fn feed_stdin(m: Arc<Machine>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin().lock();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    // The vty's backlog is bounded: offer the rest again
                    // once the guest has read some.
                    let mut rest = &buf[..n];
                    while !rest.is_empty() {
                        let taken = m.console_input(rest);
                        if taken == 0 {
                            if m.is_finished() {
                                return;
                            }
                            std::thread::sleep(std::time::Duration::from_micros(200));
                        }
                        rest = &rest[taken..];
                    }
                }
            }
        }
    });
}

/// The VM mode: one guest, console on stdio.
fn vm(o: &Options) -> Result<i32, String> {
    let m = build(o, Box::new(std::io::stdout()))?;
    if let Some(path) = &o.qmp {
        serve_qmp(Arc::clone(&m), path.clone())?;
    }
    feed_stdin(Arc::clone(&m));
    m.start(false);
    let reason = m.run_until_exit();
    if let ExitReason::Error(e) = &reason {
        eprintln!("guest: {e}");
    }
    Ok(reason.exit_status())
}

/// Boots `name` with `append` and acts on `WAIT: key`; returns the console.
fn self_check_run(name: &str, smp: &str, append: &str) -> Result<String, String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../guests/images");
    let o = Options {
        smp: Some(smp.to_string()),
        bios: Some(format!("{dir}/firmware.bin")),
        kernel: Some(format!("{dir}/{name}.elf")),
        append: append.to_string(),
        ..Default::default()
    };
    let m = build(&o, Box::new(std::io::sink()))?;
    m.start(false);
    let watchdog = {
        let m = Arc::clone(&m);
        std::thread::spawn(move || {
            let start = Instant::now();
            while !m.is_finished() {
                if start.elapsed() > Duration::from_secs(120) {
                    m.request_exit(ExitReason::Error("time limit".into()));
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let reason = m.run_until_exit();
    let _ = watchdog.join();
    let text = String::from_utf8_lossy(&m.transcript()).into_owned();
    if reason != ExitReason::PowerOff || !text.contains("EXIT: STATUS=1") {
        return Err(format!("{name} {append}: {reason:?}\n{text}"));
    }
    Ok(text)
}

fn self_check() -> Result<(), String> {
    for (name, smp, append) in [
        ("bench-hcall", "1", "n=20000"),
        ("bench-ipi", "2", "n=2000"),
        ("bench-ipi", "2", "n=2000 xics"),
    ] {
        let text = self_check_run(name, smp, append)?;
        for l in BufReader::new(text.as_bytes())
            .lines()
            .map_while(Result::ok)
        {
            if l.starts_with("TIME: BENCH") {
                println!("{l}");
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("guest: {e}");
            return ExitCode::from(1);
        }
    };
    let result = if o.kernel.is_none() {
        self_check().map(|()| 0)
    } else {
        vm(&o)
    };
    match result {
        Ok(status) => ExitCode::from(status as u8),
        Err(e) => {
            eprintln!("guest: {e}");
            ExitCode::from(1)
        }
    }
}
