//! `cargo xtask soak [CASES]`: the no-interrupt-lost property test of the
//! machine (`crates/spapr-machine/tests/no_lost_interrupts.rs`) with
//! `CASES` random migrating workloads (default 10,000) instead of the 500
//! of the normal test run, built in release mode.

use std::time::Instant;

use anyhow::{Context, Result};

use crate::{cargo, status};

/// Runs the soak.
pub(crate) fn soak(rest: &[String]) -> Result<()> {
    let cases: u32 = match rest.first() {
        Some(s) => s.parse().context("the number of cases must be a number")?,
        None => 10_000,
    };
    let start = Instant::now();
    let mut c = cargo();
    c.env("NO_LOST_INTERRUPTS_CASES", cases.to_string()).args([
        "test",
        "--release",
        "-p",
        "spapr-machine",
        "--test",
        "no_lost_interrupts",
        "--",
        "--nocapture",
        "migration_loses_and_duplicates_no_interrupt",
    ]);
    status(c)?;
    println!("soak: {cases} cases passed in {:.0?}", start.elapsed());
    Ok(())
}
