//! `cargo xtask fuzz [SECONDS] [--target NAME] [--sanitizer address|none]
//! [--no-cmin] [--keep FILES] [--keep-kib KIB]`: every cargo-fuzz target of
//! every crate (`crates/*/fuzz`), one after the other, each for `SECONDS`
//! (default 60).
//!
//! The machine has one stable toolchain: cargo-fuzz's `-Z` flags are
//! allowed on it with `RUSTC_BOOTSTRAP=1`. Each target's corpus lives in
//! `crates/<crate>/fuzz/corpus/<target>/`: a run starts from it, adds what
//! reached new coverage, and is then minimised (libFuzzer's set-cover
//! merge), so what is committed is a small set that keeps the coverage. If the
//! minimised corpus is still larger than `--keep` files (default 400) or
//! `--keep-kib` KiB (default 512), only its smallest inputs that fit are
//! kept, and the kept corpus is replayed to report the coverage it still
//! reaches. Builds go to
//! `$CARGO_TARGET_DIR/fuzz-<crate>` when `CARGO_TARGET_DIR` is set.
//!
//! The task fails if a target crashed (the input is under
//! `crates/<crate>/fuzz/artifacts/<target>/`); it ends with a table of
//! executions, coverage and corpus size per target.
//!
//! Needs cargo-fuzz: `cargo install cargo-fuzz`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::root;

/// What one run of one target did.
struct Outcome {
    name: String,
    execs: u64,
    per_sec: u64,
    cov: u64,
    features: u64,
    corpus_files: usize,
    corpus_bytes: u64,
    /// Inputs dropped to keep the corpus small.
    dropped: usize,
    /// Coverage the kept corpus reaches on replay (`None` when not replayed).
    kept_cov: Option<(u64, u64)>,
    crash: Option<PathBuf>,
}

/// Options of the task.
struct Options {
    secs: u64,
    only: Option<String>,
    sanitizer: String,
    cmin: bool,
    keep_files: usize,
    keep_bytes: u64,
}

fn parse(rest: &[String]) -> Result<Options> {
    let mut o = Options {
        secs: 60,
        only: None,
        sanitizer: "address".into(),
        cmin: true,
        keep_files: 400,
        keep_bytes: 512 * 1024,
    };
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--target" => o.only = Some(it.next().context("--target needs a name")?.clone()),
            "--sanitizer" => {
                o.sanitizer = it.next().context("--sanitizer needs a value")?.clone();
            }
            "--no-cmin" => o.cmin = false,
            "--keep" => {
                o.keep_files = it
                    .next()
                    .context("--keep needs a number of files")?
                    .parse()
                    .context("--keep needs a number of files")?;
            }
            "--keep-kib" => {
                let kib: u64 = it
                    .next()
                    .context("--keep-kib needs a size in KiB")?
                    .parse()
                    .context("--keep-kib needs a size in KiB")?;
                o.keep_bytes = kib * 1024;
            }
            s => o.secs = s.parse().context("fuzz time must be a number of seconds")?,
        }
    }
    Ok(o)
}

/// Runs each fuzz target for the given time, keeps and minimises its
/// corpus, and reports.
pub(crate) fn fuzz(rest: &[String]) -> Result<()> {
    let opts = parse(rest)?;
    let mut outcomes = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))?
        .filter_map(|d| d.ok().map(|d| d.path()))
        .filter(|d| d.join("fuzz/Cargo.toml").exists())
        .collect();
    dirs.sort();
    for krate in dirs {
        for target in targets(&krate)? {
            if opts.only.as_ref().is_some_and(|o| *o != target) {
                continue;
            }
            outcomes.push(run_target(&krate, &target, &opts)?);
        }
    }
    if outcomes.is_empty() {
        bail!("no fuzz targets found under crates/*/fuzz");
    }
    println!(
        "\n| target | executions | exec/s | coverage | features | corpus kept | kept corpus replayed |"
    );
    println!("|---|---|---|---|---|---|---|");
    for o in &outcomes {
        let dropped = if o.dropped > 0 {
            format!(" ({} larger inputs dropped)", o.dropped)
        } else {
            String::new()
        };
        let replay = o
            .kept_cov
            .map_or("-".into(), |(c, f)| format!("cov {c}, ft {f}"));
        println!(
            "| {} | {} | {} | {} | {} | {} files, {} KiB{dropped} | {replay} |",
            o.name,
            o.execs,
            o.per_sec,
            o.cov,
            o.features,
            o.corpus_files,
            o.corpus_bytes.div_ceil(1024)
        );
    }
    let crashed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            o.crash
                .as_ref()
                .map(|c| format!("{}: {}", o.name, c.display()))
        })
        .collect();
    if !crashed.is_empty() {
        bail!("fuzz targets crashed:\n{}", crashed.join("\n"));
    }
    Ok(())
}

/// The targets of the fuzz crate under `krate`.
fn targets(krate: &Path) -> Result<Vec<String>> {
    let list = Command::new("cargo")
        .args(["fuzz", "list"])
        .current_dir(krate)
        .env("RUSTC_BOOTSTRAP", "1")
        .output()
        .context("cargo fuzz (cargo install cargo-fuzz)")?;
    if !list.status.success() {
        bail!(
            "cargo fuzz list in {}: {}",
            krate.display(),
            String::from_utf8_lossy(&list.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect())
}

/// `cargo fuzz <sub> <target>` in `krate` with the common options.
fn cargo_fuzz(krate: &Path, sub: &str, target: &str, opts: &Options) -> Command {
    let mut c = Command::new("cargo");
    c.current_dir(krate).env("RUSTC_BOOTSTRAP", "1").args([
        "fuzz",
        sub,
        target,
        "--sanitizer",
        &opts.sanitizer,
    ]);
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        let name = krate
            .file_name()
            .map_or("crate".into(), |n| n.to_string_lossy());
        c.arg("--target-dir")
            .arg(Path::new(&dir).join(format!("fuzz-{name}")));
    }
    c
}

fn run_target(krate: &Path, target: &str, opts: &Options) -> Result<Outcome> {
    let name = format!(
        "{}/{target}",
        krate
            .file_name()
            .map_or("?".into(), |n| n.to_string_lossy())
    );
    let corpus = krate.join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&corpus)?;
    let artifacts = krate.join("fuzz/artifacts").join(target);
    let before = crashes(&artifacts);
    println!("== {name}: {} s", opts.secs);
    let mut run = cargo_fuzz(krate, "run", target, opts);
    run.args([
        "--",
        &format!("-max_total_time={}", opts.secs),
        "-print_final_stats=1",
    ])
    .stderr(Stdio::piped());
    let mut child = run.spawn().with_context(|| format!("running {name}"))?;
    // libFuzzer reports on stderr; keep all of it for the statistics and
    // show the progress lines as they come (not every new input).
    let mut log = String::new();
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines() {
            let line = line?;
            let kind = line.split_whitespace().nth(1).unwrap_or("");
            if kind != "NEW" && kind != "REDUCE" {
                eprintln!("{line}");
            }
            log.push_str(&line);
            log.push('\n');
        }
    }
    let exit = child.wait()?;
    let stat = |key: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (cov, features) = last_coverage(&log);
    let crash = crashes(&artifacts)
        .into_iter()
        .find(|c| !before.contains(c));
    if !exit.success() && crash.is_none() {
        bail!("{name} failed ({exit})");
    }
    if opts.cmin && crash.is_none() {
        minimise(krate, target, opts, &corpus, &name)?;
    }
    let mut dropped = 0;
    let mut kept_cov = None;
    if crash.is_none() {
        dropped = keep_smallest(&corpus, opts.keep_files, opts.keep_bytes)?;
        if dropped > 0 {
            println!("{name}: kept the smallest inputs, {dropped} larger ones dropped");
            kept_cov = Some(replay(krate, target, opts, &name)?);
        }
    }
    let (corpus_files, corpus_bytes) = inputs(&corpus)?
        .iter()
        .fold((0, 0), |(n, b), (_, len)| (n + 1, b + len));
    Ok(Outcome {
        name,
        execs: stat("stat::number_of_executed_units:"),
        per_sec: stat("stat::average_exec_per_sec:"),
        cov,
        features,
        corpus_files,
        corpus_bytes,
        dropped,
        kept_cov,
        crash,
    })
}

/// Coverage and features from libFuzzer's last status line
/// (`#N DONE cov: C ft: F corp: ...`), zeros when there is none.
fn last_coverage(log: &str) -> (u64, u64) {
    let status = log
        .lines()
        .rev()
        .find(|l| l.contains(" cov: ") && l.contains(" ft: "))
        .unwrap_or("");
    let field = |key: &str| {
        status
            .split(key)
            .nth(1)
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field(" cov: "), field(" ft: "))
}

/// The files of a corpus with their sizes.
fn inputs(corpus: &Path) -> Result<Vec<(PathBuf, u64)>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(corpus)? {
        let e = e?;
        let m = e.metadata()?;
        if m.is_file() {
            v.push((e.path(), m.len()));
        }
    }
    Ok(v)
}

/// Minimises the corpus: libFuzzer's set-cover merge of the old corpus
/// into an empty one keeps a small set of inputs that together reach every
/// feature the old corpus reached (fewer files than `cargo fuzz cmin`'s
/// plain merge, which keeps every input that adds a feature in size order).
fn minimise(krate: &Path, target: &str, opts: &Options, corpus: &Path, name: &str) -> Result<()> {
    let old = corpus.with_file_name(format!("{target}.old"));
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    std::fs::rename(corpus, &old)?;
    std::fs::create_dir_all(corpus)?;
    let mut merge = cargo_fuzz(krate, "run", target, opts);
    merge
        .arg(corpus)
        .arg(&old)
        .args(["--", "-set_cover_merge=1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let st = merge
        .status()
        .with_context(|| format!("minimising {name}"))?;
    if !st.success() {
        // Put the old corpus back rather than lose it.
        std::fs::remove_dir_all(corpus)?;
        std::fs::rename(&old, corpus)?;
        bail!("minimising the corpus of {name} failed ({st})");
    }
    std::fs::remove_dir_all(&old)?;
    Ok(())
}

/// Keeps the smallest inputs of `corpus` within `files` and `bytes`;
/// returns how many were removed.
fn keep_smallest(corpus: &Path, files: usize, bytes: u64) -> Result<usize> {
    let mut all = inputs(corpus)?;
    // By size, then by name, so that the choice does not depend on the
    // directory order.
    all.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    let mut total = 0;
    let mut removed = 0;
    for (i, (path, len)) in all.iter().enumerate() {
        if i < files && total + len <= bytes {
            total += len;
        } else {
            std::fs::remove_file(path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Runs every input of the kept corpus once; the coverage it reaches.
fn replay(krate: &Path, target: &str, opts: &Options, name: &str) -> Result<(u64, u64)> {
    let mut run = cargo_fuzz(krate, "run", target, opts);
    run.args(["--", "-runs=0"]).stdout(Stdio::null());
    let out = run
        .output()
        .with_context(|| format!("replaying the corpus of {name}"))?;
    if !out.status.success() {
        bail!("replaying the corpus of {name} failed ({})", out.status);
    }
    Ok(last_coverage(&String::from_utf8_lossy(&out.stderr)))
}

/// Crash, leak and timeout inputs saved for a target.
fn crashes(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name().is_some_and(|n| {
                        let n = n.to_string_lossy();
                        n.starts_with("crash-")
                            || n.starts_with("leak-")
                            || n.starts_with("timeout-")
                            || n.starts_with("oom-")
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}
