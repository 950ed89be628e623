//! Migration downtime and stream size, QEMU 7.2 against ours (issue 9):
//! the `migrate` guest with 256 MiB of RAM and 4 vCPUs on `-M pseries`
//! (dual `ic-mode`: both controllers exist and both are migrated), moved
//! over a unix socket when it prints `WAIT: migrate`, then checked on the
//! destination (it must end with `EXIT: STATUS=1`).
//!
//! - QEMU: a destination started with `-incoming unix:...`, the source's
//!   QMP `migrate` to a relay socket that counts the bytes on their way to
//!   the destination. Downtime: from the source's `STOP` event to the
//!   destination's `RESUME` event (both timestamped by the host clock).
//!   `max-bandwidth` is raised so that QEMU's default 128 MiB/s throttle
//!   does not decide the result; the VM's own `downtime` and `total-time`
//!   (query-migrate) are recorded too.
//! - Ours: the `pseries` binary driven the same way (two processes, QMP
//!   `migrate`, the same relay and events); until the binary boots guests,
//!   the spapr-machine bench `migration`, in one process: pause,
//!   `save_state` into a unix socket, `load_state` on the other end, start;
//!   downtime from the pause to the destination started.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::bench_compare::{guests_dir, qemu, Ours};
use crate::vm::{Qmp, Vm, VmSpec};

const MEMORY: &str = "256M";
const SMP: u32 = 4;

fn spec() -> VmSpec {
    let g = guests_dir();
    VmSpec {
        machine: "pseries".into(),
        smp: SMP,
        memory: MEMORY.into(),
        bios: g.join("images/firmware.bin"),
        kernel: g.join("images/migrate.elf"),
        append: String::new(),
    }
}

/// Accepts one connection on `listen` and copies it both ways to
/// `target`; the returned counter is the bytes from source to destination.
fn relay(listen: &Path, target: &Path) -> Result<Arc<AtomicU64>> {
    let _ = std::fs::remove_file(listen);
    let l = UnixListener::bind(listen)?;
    let count = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&count);
    let target = target.to_path_buf();
    std::thread::spawn(move || -> std::io::Result<()> {
        let (mut from_src, _) = l.accept()?;
        let mut to_dst = UnixStream::connect(&target)?;
        let mut back_dst = to_dst.try_clone()?;
        let mut back_src = from_src.try_clone()?;
        std::thread::spawn(move || std::io::copy(&mut back_dst, &mut back_src));
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = from_src.read(&mut buf)?;
            if n == 0 {
                let _ = to_dst.shutdown(std::net::Shutdown::Write);
                return Ok(());
            }
            to_dst.write_all(&buf[..n])?;
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
    Ok(count)
}

/// One QEMU-to-QEMU migration; JSON with the figures.
fn process_once(q: &Path, scratch: &Path) -> Result<Value> {
    let s = spec();
    let dir = scratch.join("mig-processes");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let (qmp_src, qmp_dst) = (dir.join("qmp-src"), dir.join("qmp-dst"));
    let (incoming, relay_path) = (dir.join("incoming"), dir.join("relay"));
    let mut dst = Vm::spawn(
        q,
        &s.args(&qmp_dst, Some(&incoming)),
        &qmp_dst,
        &dir.join("dst.stderr"),
    )?;
    let mut src = Vm::spawn(
        q,
        &s.args(&qmp_src, None),
        &qmp_src,
        &dir.join("src.stderr"),
    )?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        match src.next_line(deadline)? {
            Some(l) if l.starts_with("WAIT: migrate") => break,
            Some(_) => {}
            None => bail!("source ended before WAIT: migrate"),
        }
    }
    let mut qs = Qmp::connect(&qmp_src, deadline)?;
    let mut qd = Qmp::connect(&qmp_dst, deadline)?;
    while !incoming.exists() {
        if Instant::now() > deadline {
            bail!("the destination does not listen on {}", incoming.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let bytes = relay(&relay_path, &incoming)?;
    // QEMU's throttle; a VM without the command (ours) has none.
    let _ = qs.cmd(
        "migrate-set-parameters",
        json!({"max-bandwidth": 1u64 << 40}),
    );
    qs.cmd(
        "migrate",
        json!({"uri": format!("unix:{}", relay_path.display())}),
    )?;
    let info = loop {
        let r = qs.cmd("query-migrate", json!({}))?;
        match r["status"].as_str() {
            Some("completed") => break r,
            Some("failed") | Some("cancelled") => bail!("migration {}", r["status"]),
            _ => {}
        }
        if Instant::now() > deadline {
            bail!("migration did not complete");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // The destination's RESUME event.
    while qd.event_time_us("RESUME").is_none() {
        if Instant::now() > deadline {
            bail!("no RESUME event on the destination");
        }
        qd.poll_events(Duration::from_millis(50))?;
    }
    // QEMU stops the source with a STOP event; a VM that sends none (our
    // binary, so far) stops when its migration turns active.
    let (stop, stop_event) = match qs.event_time_us("STOP") {
        Some(t) => (t, "STOP"),
        None => (
            qs.event_time_us_where("MIGRATION", |d| d["status"] == "active")
                .with_context(|| {
                    format!("no STOP event on the source (events: {:?})", qs.events)
                })?,
            "MIGRATION active (no STOP event)",
        ),
    };
    let resume = qd.event_time_us("RESUME").expect("checked");
    let _ = qs.cmd("quit", json!({}));
    let _ = src.wait(deadline);
    dst.send(b"k")?;
    let (status, _) = dst.drive(Duration::from_secs(300))?;
    let ok = status == 0 && dst.transcript.iter().any(|l| l == "EXIT: STATUS=1");
    Ok(json!({
        "downtime_us": resume.saturating_sub(stop),
        "bytes": bytes.load(Ordering::Relaxed),
        "reported_downtime_ms": info["downtime"],
        "reported_total_ms": info["total-time"],
        "ram_transferred": info["ram"]["transferred"],
        "stop_event": stop_event,
        "ok": ok,
    }))
}

/// One in-process migration of ours; JSON with the figures.
fn ours_once(exe: &Path) -> Result<Value> {
    let out = Command::new(exe)
        .args(["--runs", "1", "-m", MEMORY, "-smp", &SMP.to_string()])
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("PERF migration "))
        .with_context(|| {
            format!(
                "no PERF migration line:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let mut v = json!({});
    for kv in line.split_whitespace().skip(3) {
        if let Some((k, val)) = kv.split_once('=') {
            v[k] = val.parse::<u64>().map(Value::from).unwrap_or(Value::Null);
        }
    }
    v["ok"] = Value::Bool(v["ok"] == 1);
    Ok(v)
}

fn med(runs: &[Value], key: &str) -> Option<f64> {
    let mut v: Vec<f64> = runs
        .iter()
        .filter(|r| r["ok"] == true)
        .filter_map(|r| r[key].as_f64())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// `runs` migrations on each side, alternating. Ours is the `pseries`
/// binary driven exactly as QEMU is, when it boots guests; else the
/// in-process bench.
pub(crate) fn compare(runs: usize, scratch: &Path, ours: &Ours) -> Result<Value> {
    let exe = match ours {
        Ours::Binary(_) => None,
        Ours::Harness(_) => Some(crate::bench::bench_executable(
            "spapr-machine",
            "migration",
        )?),
    };
    let (mut qemu_runs, mut ours_runs) = (Vec::new(), Vec::new());
    for run in 0..runs {
        for is_qemu in [run % 2 == 0, run % 2 == 1] {
            let r = match (is_qemu, &exe) {
                (true, _) => process_once(&qemu(), scratch),
                (false, Some(exe)) => ours_once(exe),
                (false, None) => process_once(ours.program(), scratch),
            };
            let v = r.unwrap_or_else(|e| json!({"ok": false, "error": format!("{e:#}")}));
            eprintln!(
                "bench-compare: migration run {}/{runs} {}: {v}",
                run + 1,
                if is_qemu { "qemu" } else { "ours" }
            );
            if is_qemu {
                qemu_runs.push(v);
            } else {
                ours_runs.push(v);
            }
        }
    }
    let ratio = |k: &str| match (med(&ours_runs, k), med(&qemu_runs, k)) {
        (Some(o), Some(q)) if q > 0.0 => Some(o / q),
        _ => None,
    };
    Ok(json!({
        "guest": "migrate",
        "memory": MEMORY,
        "smp": SMP,
        "machine": "pseries (ic-mode dual)",
        "ours_method": match exe {
            None => "pseries binary: two processes, QMP migrate over a unix socket, STOP to RESUME events",
            Some(_) => "in-process (spapr-machine bench `migration`): pause to start, save_state into a unix socket, load_state",
        },
        "qemu": qemu_runs,
        "ours": ours_runs,
        "qemu_downtime_us": med(&qemu_runs, "downtime_us"),
        "ours_downtime_us": med(&ours_runs, "downtime_us"),
        "downtime_ratio": ratio("downtime_us"),
        "qemu_bytes": med(&qemu_runs, "bytes"),
        "ours_bytes": med(&ours_runs, "bytes"),
        "bytes_ratio": ratio("bytes"),
    }))
}
