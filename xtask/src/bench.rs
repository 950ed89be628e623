//! `cargo xtask bench`: every criterion bench of the workspace.

use anyhow::Result;

use crate::{cargo, status};

/// Runs every criterion bench; extra arguments go to `cargo bench`.
pub(crate) fn bench(rest: &[String]) -> Result<()> {
    let mut c = cargo();
    c.args(["bench", "--workspace"]);
    c.args(rest);
    status(c)
}
