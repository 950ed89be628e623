//! `cargo xtask bench`: every criterion bench of the workspace, then
//! `cargo xtask bench-compare`, then one report under
//! `<target>/perf-report/` (issue 9).
//!
//! Options:
//! - `--full`: criterion's normal sampling (without it, every bench runs
//!   with `--quick`, so the whole suite takes minutes);
//! - `--only PKG[:BENCH],...`: just those benches;
//! - `--no-compare`: skip the guest and migration comparison with QEMU;
//! - `--readme`: also replace README.md's "Performance" section with the
//!   report's summary;
//! - anything after `--` goes to `bench-compare` (`--quick`, `--runs N`,
//!   `--only KEY`, ...).
//!
//! Each bench's output is kept in `perf-report/logs/<pkg>.<bench>.log`;
//! the report reads those and criterion's `estimates.json` files.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::{bench_compare, cargo, report};

/// A bench target of the workspace.
struct Target {
    package: String,
    bench: String,
}

/// Every `[[bench]]` (and auto-discovered bench) of the workspace members.
fn bench_targets() -> Result<Vec<Target>> {
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    }
    let meta: Value = serde_json::from_slice(&out.stdout)?;
    let mut v = Vec::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        for t in p["targets"].as_array().into_iter().flatten() {
            if t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bench"))
            {
                v.push(Target {
                    package: p["name"].as_str().unwrap_or_default().to_string(),
                    bench: t["name"].as_str().unwrap_or_default().to_string(),
                });
            }
        }
    }
    v.sort_by(|a, b| (&a.package, &a.bench).cmp(&(&b.package, &b.bench)));
    Ok(v)
}

/// The artifact `cargo <args> --message-format=json` builds for target
/// `name` of kind `kind`.
fn artifact(args: &[&str], name: &str, kind: &str) -> Result<PathBuf> {
    let out = cargo()
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cargo {}", args.join(" ")))?;
    if !out.status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v["reason"] == "compiler-artifact"
            && v["target"]["name"] == name
            && v["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == kind))
        {
            if let Some(exe) = v["executable"].as_str() {
                return Ok(PathBuf::from(exe));
            }
        }
    }
    bail!("cargo {} built no {kind} {name}", args.join(" "))
}

/// Builds bench `bench` of `package` and returns its executable.
pub(crate) fn bench_executable(package: &str, bench: &str) -> Result<PathBuf> {
    artifact(
        &["bench", "-p", package, "--bench", bench, "--no-run"],
        bench,
        "bench",
    )
}

/// Builds binary `name` (release) and returns its path.
pub(crate) fn build_binary(name: &str) -> Result<PathBuf> {
    artifact(
        &["build", "--release", "-p", name, "--bin", name],
        name,
        "bin",
    )
}

/// Runs one bench, echoing its output and keeping it in a log.
fn run_one(t: &Target, quick: bool) -> Result<Value> {
    let log_path = report::report_dir()
        .join("logs")
        .join(format!("{}.{}.log", t.package, t.bench));
    std::fs::create_dir_all(log_path.parent().expect("has a parent"))?;
    let mut log = std::fs::File::create(&log_path)?;
    let mut c = cargo();
    c.args(["bench", "-p", &t.package, "--bench", &t.bench, "--"]);
    if quick {
        c.arg("--quick");
    }
    c.arg("--noplot");
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    eprintln!("xtask bench: {} / {}", t.package, t.bench);
    let mut child = c.spawn()?;
    // Both streams go to the log (stderr through a thread).
    let stderr = child.stderr.take().expect("piped");
    let err_lines = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .inspect(|l| eprintln!("{l}"))
            .collect::<Vec<_>>()
    });
    for line in BufReader::new(child.stdout.take().expect("piped"))
        .lines()
        .map_while(Result::ok)
    {
        println!("{line}");
        writeln!(log, "{line}")?;
    }
    let status = child.wait()?;
    for l in err_lines.join().unwrap_or_default() {
        writeln!(log, "{l}")?;
    }
    Ok(json!({
        "package": t.package,
        "bench": t.bench,
        "ok": status.success(),
        "seconds": start.elapsed().as_secs_f64(),
        "log": log_path,
    }))
}

/// `cargo xtask bench [--full] [--only ...] [--no-compare] [--readme] [-- compare options]`.
pub(crate) fn bench(rest: &[String]) -> Result<()> {
    let (mine, compare_args) = match rest.iter().position(|a| a == "--") {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let (mut quick, mut compare, mut readme) = (true, true, false);
    let mut only: Option<Vec<String>> = None;
    let mut it = mine.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--full" => quick = false,
            "--no-compare" => compare = false,
            "--readme" => readme = true,
            "--only" => {
                only = Some(
                    it.next()
                        .context("--only PKG[:BENCH],...")?
                        .split(',')
                        .map(String::from)
                        .collect(),
                )
            }
            other => bail!("bench: unknown option {other}"),
        }
    }
    let dir = report::report_dir();
    std::fs::create_dir_all(&dir)?;
    let started = report::now_utc();
    let started_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut runs = Vec::new();
    for t in bench_targets()? {
        let wanted = only.as_ref().is_none_or(|o| {
            o.iter()
                .any(|w| *w == t.package || *w == format!("{}:{}", t.package, t.bench))
        });
        if wanted {
            runs.push(run_one(&t, quick)?);
        }
    }
    let failed: Vec<String> = runs
        .iter()
        .filter(|r| r["ok"] != true)
        .map(|r| format!("{}/{}", r["package"], r["bench"]))
        .collect();
    std::fs::write(
        dir.join("benches.json"),
        serde_json::to_string_pretty(&json!({
            "started": started,
            "started_epoch": started_epoch,
            "quick": quick,
            "runs": runs,
        }))?,
    )?;
    if compare {
        bench_compare::bench_compare(compare_args)?;
    } else {
        report::write()?;
    }
    if readme {
        report::update_readme()?;
    }
    if !failed.is_empty() {
        bail!("benches failed: {}", failed.join(", "));
    }
    Ok(())
}
