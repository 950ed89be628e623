//! `cargo xtask run [-- pseries options]`: builds `pseries` and boots the
//! default machine (newest pseries type, ic-mode dual, 2 vCPUs) with the
//! demo guest, acting on the guest's `WAIT:` lines the way its harness
//! does: a console key for `WAIT: key`, a QMP `system_powerdown` (the EPOW
//! interrupt) for `WAIT: powerdown`. Ends with the machine's summary of
//! interrupts delivered per controller and per vCPU.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::{cargo, root, status};

/// Sends `system_powerdown` over the QMP socket at `path`.
fn powerdown(path: &Path) -> Result<()> {
    let s = UnixStream::connect(path).with_context(|| format!("QMP socket {}", path.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut w = s;
    let mut line = String::new();
    r.read_line(&mut line)?; // greeting
    for cmd in ["qmp_capabilities", "system_powerdown"] {
        writeln!(w, "{{\"execute\":\"{cmd}\"}}")?;
        loop {
            line.clear();
            if r.read_line(&mut line)? == 0 {
                bail!("QMP closed the connection");
            }
            // Skip events until the reply.
            if line.contains("\"return\"") || line.contains("\"error\"") {
                break;
            }
        }
    }
    Ok(())
}

/// What a driven VM printed and how it ended.
pub(crate) struct Driven {
    /// Console output.
    pub transcript: String,
    /// Process exit status.
    pub status: std::process::ExitStatus,
}

/// Runs `cmd` (a VM whose console is its stdio and whose QMP socket is
/// `qmp`), acting on the guest's `WAIT:` lines; echoes the console when
/// `echo`. The VM is killed after `limit`.
pub(crate) fn drive(mut cmd: Command, qmp: &Path, echo: bool, limit: Duration) -> Result<Driven> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let mut out = child.stdout.take().context("stdout")?;
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                if start.elapsed() > limit {
                    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let mut transcript = Vec::new();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    let stdout = std::io::stdout();
    while out.read(&mut byte)? == 1 {
        transcript.push(byte[0]);
        if echo {
            let mut o = stdout.lock();
            o.write_all(&byte)?;
            o.flush()?;
        }
        if byte[0] != b'\n' {
            line.push(byte[0]);
            continue;
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        line.clear();
        if text.starts_with("WAIT: key") || text.starts_with("WAIT: migrate") {
            let _ = stdin.write_all(b"k");
            let _ = stdin.flush();
        } else if text.starts_with("WAIT: powerdown") {
            if let Err(e) = powerdown(qmp) {
                eprintln!("xtask: powerdown request failed: {e:#}");
            }
        }
    }
    let status = child.wait()?;
    done.store(true, std::sync::atomic::Ordering::Release);
    let _ = watchdog.join();
    Ok(Driven {
        transcript: String::from_utf8_lossy(&transcript).into_owned(),
        status,
    })
}

/// Builds the release `pseries` binary and returns its path.
pub(crate) fn pseries_binary() -> Result<std::path::PathBuf> {
    let mut build = cargo();
    build.args(["build", "--quiet", "--release", "--package", "pseries"]);
    status(build)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    Ok(target.join("release/pseries"))
}

/// Boots the demo (or what `rest` asks for) and drives it.
pub(crate) fn run(rest: &[String]) -> Result<()> {
    let rest: Vec<&String> = rest.iter().skip_while(|a| *a == "--").collect();
    let bin = pseries_binary()?;
    let tmp = std::env::temp_dir().join(format!("xtask-run-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let qmp = tmp.join("qmp.sock");
    let mut cmd = Command::new(&bin);
    cmd.args([
        "-M",
        "pseries",
        "-smp",
        "2",
        "-m",
        "512M",
        "-nodefaults",
        "-display",
        "none",
    ]);
    cmd.args(["-serial", "stdio"]);
    cmd.arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp.display()));
    if !rest
        .iter()
        .any(|a| a.as_str() == "-kernel" || a.as_str() == "-bios")
    {
        cmd.arg("-kernel")
            .arg(root().join("guests/images/demo.elf"));
    }
    cmd.args(rest);
    cmd.env("PSERIES_SUMMARY", "1");
    let driven = drive(cmd, &qmp, true, Duration::from_secs(600))?;
    let _ = std::fs::remove_dir_all(&tmp);
    if !driven.status.success() {
        bail!("pseries ended with {}", driven.status);
    }
    Ok(())
}
