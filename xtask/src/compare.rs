//! `cargo xtask compare`: boots every guest configuration of
//! `guests/runs.txt` (but the migration ones) on this machine's `pseries`
//! binary and on Debian's `qemu-system-ppc64` (7.2) with the same options,
//! and compares their console transcripts. `TIME:` lines vary and are left
//! out; the lines where QEMU 7.2 is wrong are listed, with the reasons, in
//! `guests/expected/qemu-7.2-bugs.txt` (explained in
//! `guests/QEMU-7.2-NOTES.md`). Runs where the guest makes the VM end with
//! an error (QEMU exits 1) must end ours with status 2 or more.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::root;
use crate::run::{drive, pseries_binary};

struct RunSpec {
    name: String,
    image: String,
    smp: String,
    machine: String,
    append: String,
    migrate: bool,
    vm_error: bool,
}

fn runs() -> Result<Vec<RunSpec>> {
    let text = std::fs::read_to_string(root().join("guests/runs.txt"))?;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut w = line.split_whitespace();
        let mut r = RunSpec {
            name: w.next().context("run name")?.into(),
            image: w.next().context("run image")?.into(),
            smp: "2".into(),
            machine: "pseries".into(),
            append: String::new(),
            migrate: false,
            vm_error: false,
        };
        for word in w {
            match word.split_once('=') {
                Some(("smp", v)) => r.smp = v.into(),
                Some(("machine", v)) => r.machine = v.into(),
                Some(("append", v)) => r.append = v.replace(',', " "),
                Some(("exit", v)) => r.vm_error = v != "0",
                None if word == "migrate" => r.migrate = true,
                _ => bail!("runs.txt: unknown word '{word}'"),
            }
        }
        out.push(r);
    }
    Ok(out)
}

fn comparable(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with("TIME:"))
        .map(str::to_string)
        .collect()
}

/// QEMU's transcript with its known bugs replaced by the correct lines.
fn corrected(run: &str, qemu: Vec<String>) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(root().join("guests/expected/qemu-7.2-bugs.txt"))?;
    let mut lines = qemu;
    for l in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (r, rest) = l.split_once(": ").context("bugs file: run")?;
        if r != run {
            continue;
        }
        let (q, o) = rest.split_once(" => ").context("bugs file: =>")?;
        let i = lines
            .iter()
            .position(|x| x == q.trim())
            .with_context(|| format!("{run}: QEMU did not print the listed bug line '{q}'"))?;
        if o.trim() == "-" {
            lines.remove(i);
        } else {
            lines[i] = o.trim().to_string();
        }
    }
    Ok(lines)
}

fn vm(bin: &Path, r: &RunSpec, qmp: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args([
        "-M", &r.machine, "-accel", "tcg", "-smp", &r.smp, "-m", "512M",
    ]);
    c.args(["-nodefaults", "-display", "none", "-serial", "stdio"]);
    c.arg("-bios")
        .arg(root().join("guests/images/firmware.bin"));
    c.arg("-kernel")
        .arg(root().join(format!("guests/images/{}.elf", r.image)));
    if !r.append.is_empty() {
        c.args(["-append", &r.append]);
    }
    c.arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp.display()));
    c.stderr(std::process::Stdio::null());
    c
}

/// Runs the comparison; `Ok` when every transcript matches.
pub(crate) fn compare(_rest: &[String]) -> Result<()> {
    let qemu = Path::new("/usr/bin/qemu-system-ppc64");
    if !qemu.exists() {
        bail!("qemu-system-ppc64 is not installed (Debian package qemu-system-ppc)");
    }
    let ours = pseries_binary()?;
    let tmp = std::env::temp_dir().join(format!("xtask-compare-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let mut failed = Vec::new();
    let limit = Duration::from_secs(120);
    for r in runs()?.iter().filter(|r| !r.migrate) {
        let q = drive(
            vm(qemu, r, &tmp.join("q.sock")),
            &tmp.join("q.sock"),
            false,
            limit,
        )?;
        let o = drive(
            vm(&ours, r, &tmp.join("o.sock")),
            &tmp.join("o.sock"),
            false,
            limit,
        )?;
        let expected = corrected(&r.name, comparable(&q.transcript))?;
        let got = comparable(&o.transcript);
        let status_ok = if r.vm_error {
            o.status.code().is_some_and(|c| c >= 2)
        } else {
            o.status.success()
        };
        let same = expected == got && status_ok;
        println!(
            "{:<16} qemu {:>4}  ours {:>4}  {}",
            r.name,
            q.status.code().map_or("sig".into(), |c| c.to_string()),
            o.status.code().map_or("sig".into(), |c| c.to_string()),
            if same { "same" } else { "DIFFERENT" }
        );
        if !same {
            for i in 0..expected.len().max(got.len()) {
                if expected.get(i) != got.get(i) {
                    println!(
                        "    line {i}: qemu {:?}\n            ours {:?}",
                        expected.get(i),
                        got.get(i)
                    );
                }
            }
            failed.push(r.name.clone());
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    if !failed.is_empty() {
        bail!("transcripts differ: {}", failed.join(", "));
    }
    Ok(())
}
