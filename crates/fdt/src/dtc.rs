//! Runs the Device Tree Compiler (`dtc`, Debian package
//! `device-tree-compiler`) from tests: validate a blob with every check
//! turned into a failure, and compile dts sources such as QEMU's dumped
//! trees.
//!
//! dtc 1.6 reports failed checks as `Warning (<check>): ...` on stderr and
//! still exits 0; `-E <check>` would turn one check into an error, but there
//! is no `-E` for all checks, and naming each would tie us to one dtc
//! version's list. So [`Dtc::validate`] treats every reported check, warning
//! or error, as a failure, except the checks the caller allows, which it
//! disables with `-W no-<check>` (dtc refuses unknown check names, so a
//! misspelt allowance fails loudly instead of hiding anything).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::reader::ReadError;
use crate::tree::Fdt;

/// Why dtc could not be run or did not accept its input.
#[derive(Debug, thiserror::Error)]
pub enum DtcError {
    /// The program could not be started.
    #[error("cannot run {program:?}: {source}")]
    NotFound {
        /// The program tried.
        program: PathBuf,
        /// Why it could not start.
        source: std::io::Error,
    },
    /// Talking to the process failed.
    #[error("I/O with dtc failed: {0}")]
    Io(#[from] std::io::Error),
    /// dtc exited with a failure status.
    #[error("dtc failed (status {status:?}):\n{stderr}")]
    Failed {
        /// Exit status, `None` when killed by a signal.
        status: Option<i32>,
        /// What dtc printed on stderr.
        stderr: String,
    },
    /// dtc's checks found problems.
    #[error("dtc checks failed:\n{}", findings.iter().map(|f| format!("  {f}\n")).collect::<String>())]
    Checks {
        /// Each reported check.
        findings: Vec<DtcFinding>,
        /// The decompiled source, for the report.
        dts: String,
    },
    /// The blob dtc produced could not be read back.
    #[error("cannot read dtc's blob: {0}")]
    Read(#[from] ReadError),
}

/// How serious dtc considered a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// `Warning (check): ...`
    Warning,
    /// `ERROR (check): ...`
    Error,
}

/// One failed check reported by dtc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtcFinding {
    /// Warning or error.
    pub severity: Severity,
    /// The check's name, e.g. `interrupt_provider`.
    pub check: String,
    /// The rest of the line, e.g. `/event-sources: Missing #address-cells
    /// in interrupt provider`.
    pub message: String,
}

impl std::fmt::Display for DtcFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "Warning",
            Severity::Error => "ERROR",
        };
        write!(f, "{sev} ({}): {}", self.check, self.message)
    }
}

/// Parses dtc's stderr into findings; lines that are not check reports are
/// skipped.
pub fn parse_findings(stderr: &str) -> Vec<DtcFinding> {
    stderr
        .lines()
        .filter_map(|line| {
            let (severity, at) = [
                ("Warning (", Severity::Warning),
                ("ERROR (", Severity::Error),
            ]
            .iter()
            .find_map(|(tag, sev)| line.find(tag).map(|i| (*sev, i + tag.len())))?;
            let rest = &line[at..];
            let (check, message) = rest.split_once("): ")?;
            Some(DtcFinding {
                severity,
                check: check.to_owned(),
                message: message.to_owned(),
            })
        })
        .collect()
}

/// A located `dtc` program.
#[derive(Debug, Clone)]
pub struct Dtc {
    program: PathBuf,
}

impl Dtc {
    /// Finds dtc: the `DTC` environment variable, else `dtc` on `PATH`.
    /// Runs `dtc --version` to be sure it starts.
    pub fn find() -> Result<Dtc, DtcError> {
        let program: PathBuf = std::env::var_os("DTC")
            .unwrap_or_else(|| OsString::from("dtc"))
            .into();
        let dtc = Dtc { program };
        dtc.version()?;
        Ok(dtc)
    }

    /// For tests: dtc, or `None` after printing why the test is skipped.
    ///
    /// # Panics
    ///
    /// When dtc is missing and the `CI` environment variable is set (and not
    /// `false` or `0`): in CI a missing dtc is a failure, not a skip.
    pub fn for_tests() -> Option<Dtc> {
        match Dtc::find() {
            Ok(dtc) => Some(dtc),
            Err(e) => {
                let ci =
                    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
                assert!(!ci, "dtc is required in CI: {e}");
                eprintln!("skipping: {e} (install the Debian package device-tree-compiler)");
                None
            }
        }
    }

    /// The first line of `dtc --version`, e.g. `Version: DTC 1.6.1`.
    pub fn version(&self) -> Result<String, DtcError> {
        let (stdout, _) = self.run(&["--version"], &[])?;
        Ok(String::from_utf8_lossy(&stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned())
    }

    /// Decompiles `blob` with all of dtc's checks as failures, except the
    /// `allowed` ones (check names such as `interrupt_provider`, which QEMU's
    /// own pseries trees trip). Returns the dts text dtc printed.
    pub fn validate(&self, blob: &[u8], allowed: &[&str]) -> Result<String, DtcError> {
        let mut args = vec!["-I", "dtb", "-O", "dts", "-o", "-"];
        let disabled: Vec<String> = allowed.iter().map(|c| format!("no-{c}")).collect();
        for d in &disabled {
            args.extend(["-W", d]);
        }
        args.push("-");
        let (stdout, stderr) = self.run(&args, blob)?;
        let dts = String::from_utf8_lossy(&stdout).into_owned();
        let findings = parse_findings(&stderr);
        if findings.is_empty() {
            Ok(dts)
        } else {
            Err(DtcError::Checks { findings, dts })
        }
    }

    /// Compiles dts source into a blob. Check warnings are not failures here
    /// (QEMU's dumped trees have some); dtc errors are.
    pub fn compile(&self, dts: &str) -> Result<Vec<u8>, DtcError> {
        let (stdout, _) = self.run(
            &["-q", "-I", "dts", "-O", "dtb", "-o", "-", "-"],
            dts.as_bytes(),
        )?;
        Ok(stdout)
    }

    /// Compiles dts source and reads the blob back into a tree.
    pub fn load_dts(&self, dts: &str) -> Result<Fdt, DtcError> {
        Ok(Fdt::from_dtb(&self.compile(dts)?)?)
    }

    /// Runs dtc with `input` on stdin; returns stdout and stderr, or
    /// [`DtcError::Failed`] on a failure status.
    fn run(&self, args: &[&str], input: &[u8]) -> Result<(Vec<u8>, String), DtcError> {
        let mut child = Command::new(&self.program)
            .args(args)
            // Fixed locale: dtc decides which bytes are printable with isprint().
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| DtcError::NotFound {
                program: self.program.clone(),
                source,
            })?;
        let output = std::thread::scope(|s| {
            let mut stdin = child.stdin.take();
            // Feed stdin from another thread so a large output cannot block
            // dtc while we are still writing.
            let writer = s.spawn(move || match stdin.as_mut() {
                Some(w) => w.write_all(input),
                None => Ok(()),
            });
            let output = child.wait_with_output()?;
            match writer.join() {
                // dtc may stop reading early (e.g. `--version` reads nothing).
                Ok(Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
                _ => Ok(output),
            }
        })?;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if !output.status.success() {
            return Err(DtcError::Failed {
                status: output.status.code(),
                stderr,
            });
        }
        Ok((output.stdout, stderr))
    }
}
