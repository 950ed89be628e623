//! `cargo xtask fuzz [seconds]`: every cargo-fuzz target of the workspace.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{root, status};

/// Runs each fuzz target for the given time (default 60 s).
pub(crate) fn fuzz(rest: &[String]) -> Result<()> {
    let secs: u64 = match rest.first() {
        Some(s) => s.parse().context("fuzz time must be a number of seconds")?,
        None => 60,
    };
    let mut found = false;
    for dir in std::fs::read_dir(root().join("crates"))? {
        let fuzz_dir = dir?.path().join("fuzz");
        if !fuzz_dir.join("Cargo.toml").exists() {
            continue;
        }
        let list = Command::new("cargo")
            .args(["fuzz", "list"])
            .current_dir(fuzz_dir.parent().unwrap())
            .output()
            .context("cargo fuzz (cargo install cargo-fuzz)")?;
        for target in String::from_utf8_lossy(&list.stdout).lines() {
            found = true;
            let mut c = Command::new("cargo");
            // The machine has one stable toolchain; cargo-fuzz's -Z flags are
            // allowed on it with RUSTC_BOOTSTRAP.
            c.current_dir(fuzz_dir.parent().unwrap())
                .env("RUSTC_BOOTSTRAP", "1")
                .args([
                    "fuzz".to_string(),
                    "run".into(),
                    target.to_string(),
                    "--".into(),
                    format!("-max_total_time={secs}"),
                ]);
            status(c)?;
        }
    }
    if !found {
        bail!("no fuzz targets found under crates/*/fuzz");
    }
    Ok(())
}
