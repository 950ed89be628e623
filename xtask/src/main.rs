//! `cargo xtask <task>`: the project's tasks, in Rust so that they need only
//! cargo.
//!
//! - `run [-- pseries options]`: build and boot the default machine with the
//!   demo guest;
//! - `test`: the whole test suite;
//! - `ci`: fmt check, clippy `-D warnings`, tests, benches run once, docs;
//! - `bench`: every criterion bench;
//! - `guests`: rebuild the bundled guest images;
//! - `fuzz [seconds]`: run each fuzz target for a while;
//! - `soak [cases]`: the no-interrupt-lost property test with many cases.

mod bench;
mod bench_compare;
mod compare;
mod fuzz;
mod mig_compare;
mod plot;
mod report;
mod report_data;
mod run;
mod soak;
mod vm;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let (task, rest) = match args.split_first() {
        Some((t, r)) => (t.as_str(), r),
        None => ("help", &[][..]),
    };
    match task {
        "test" => test(),
        "ci" => ci(),
        "run" => run::run(rest),
        "compare" => compare::compare(rest),
        "bench" => bench::bench(rest),
        "bench-compare" => bench_compare::bench_compare(rest),
        "guests" => guests(),
        "fuzz" => fuzz::fuzz(rest),
        "soak" => soak::soak(rest),
        "help" | "-h" | "--help" => {
            println!("usage: cargo xtask <run|test|ci|bench|guests|fuzz|soak> [args]");
            Ok(())
        }
        other => bail!("unknown task '{other}' (try: run, test, ci, bench, guests, fuzz, soak)"),
    }
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

pub(crate) fn status(mut cmd: Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let st = cmd.status().with_context(|| format!("running {shown}"))?;
    if !st.success() {
        bail!("{shown} failed ({st})");
    }
    Ok(())
}

/// The whole test suite: every crate's unit, integration and doc tests.
fn test() -> Result<()> {
    let mut c = cargo();
    c.args(["test", "--workspace", "--all-targets"]);
    status(c)?;
    let mut d = cargo();
    d.args(["test", "--workspace", "--doc"]);
    status(d)?;
    // The same guests on QEMU 7.2 and on this machine, live.
    compare::compare(&[])
}

fn ci() -> Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    status(fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    status(clippy)?;
    test()?;
    let mut benches = cargo();
    benches.args(["test", "--workspace", "--benches"]);
    status(benches)?;
    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--no-deps"]);
    doc.env("RUSTDOCFLAGS", "-D warnings");
    status(doc)
}

fn guests() -> Result<()> {
    let mut c = Command::new("make");
    c.current_dir(root().join("guests"));
    status(c)
}
