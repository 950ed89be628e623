//! `cargo xtask bench-compare`: the same guest images on QEMU 7.2 (TCG)
//! and on our machine, in one run, alternating, five times each (issue 9);
//! each guest measures itself with the timebase and prints
//! `TIME: BENCH <name> <cost> <unit>/op`. Then migration downtime and
//! stream size on both. Results go to `<target>/perf-report/compare.json`
//! and into the report.
//!
//! Options: `--runs N` (default 5), `--quick` (3 runs, n=10000 for the
//! interrupt and hcall loops: a smoke test, not the numbers),
//! `--only KEY[,KEY]` (`migration` for the migration part), `--ours
//! auto|binary|harness`, `--no-migration`, `--readme` (update README.md's
//! Performance section), `--report-only` (rewrite the report from the
//! files a previous run left).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::vm::{bench_lines, Vm, VmSpec};
use crate::{bench, mig_compare, report, root};

/// What a workload is judged against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Class {
    /// Interrupt delivery: ours / QEMU at most 0.5.
    Interrupt,
    /// Hypercall round trip: at most 0.5.
    Hcall,
    /// Compute: at most 1.0.
    Compute,
    /// Boot to power-off: the issue sets no target.
    Boot,
}

impl Class {
    pub(crate) fn target(self) -> Option<f64> {
        match self {
            Class::Interrupt | Class::Hcall => Some(0.5),
            Class::Compute => Some(1.0),
            Class::Boot => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Class::Interrupt => "interrupt",
            Class::Hcall => "hcall",
            Class::Compute => "compute",
            Class::Boot => "boot",
        }
    }
}

/// The metric of a whole run: milliseconds from spawning the VM to its
/// exit (the guest powered off).
const WALL: &str = "boot-to-poweroff";

/// One guest configuration and the figures its run yields.
struct Config {
    key: &'static str,
    image: &'static str,
    smp: u32,
    machine: &'static str,
    append: &'static str,
    /// (`TIME: BENCH` name, or [`WALL`]; class).
    metrics: &'static [(&'static str, Class)],
}

const CONFIGS: &[Config] = &[
    Config {
        key: "ipi-xics",
        image: "bench-ipi",
        smp: 2,
        machine: "pseries",
        append: "n=100000 xics",
        metrics: &[("ipi-roundtrip-xics", Class::Interrupt)],
    },
    Config {
        key: "ipi-xive",
        image: "bench-ipi",
        smp: 2,
        machine: "pseries",
        append: "n=100000",
        metrics: &[("ipi-roundtrip-xive", Class::Interrupt)],
    },
    Config {
        key: "console-xics",
        image: "bench-console",
        smp: 1,
        machine: "pseries",
        append: "n=100000 xics",
        metrics: &[("console-irq-xics", Class::Interrupt)],
    },
    Config {
        key: "console-xive",
        image: "bench-console",
        smp: 1,
        machine: "pseries",
        append: "n=100000",
        metrics: &[("console-irq-xive", Class::Interrupt)],
    },
    Config {
        key: "hcall",
        image: "bench-hcall",
        smp: 1,
        machine: "pseries",
        append: "n=100000",
        metrics: &[("hcall-h_cppr", Class::Hcall)],
    },
    Config {
        key: "sieve",
        image: "bench-sieve",
        smp: 1,
        machine: "pseries",
        append: "n=10000000 runs=3",
        metrics: &[
            ("sieve-real", Class::Compute),
            ("sieve-radix", Class::Compute),
        ],
    },
    Config {
        key: "boot",
        image: "demo",
        smp: 2,
        machine: "pseries",
        append: "",
        metrics: &[(WALL, Class::Boot)],
    },
];

/// Which program plays "ours".
#[derive(Debug, Clone)]
pub(crate) enum Ours {
    /// The `pseries` binary.
    Binary(PathBuf),
    /// The in-process harness (`crates/spapr-machine/benches/guest.rs`).
    Harness(PathBuf),
}

impl Ours {
    pub(crate) fn program(&self) -> &Path {
        match self {
            Ours::Binary(p) | Ours::Harness(p) => p,
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Ours::Binary(_) => "pseries binary (bins/pseries)".into(),
            Ours::Harness(_) => {
                "in-process harness (spapr-machine bench `guest`; the pseries binary does not boot guests yet)".into()
            }
        }
    }
}

struct Options {
    runs: usize,
    quick: bool,
    only: Option<Vec<String>>,
    ours: String,
    migration: bool,
    readme: bool,
    report_only: bool,
}

fn parse(rest: &[String]) -> Result<Options> {
    let mut o = Options {
        runs: 5,
        quick: false,
        only: None,
        ours: "auto".into(),
        migration: true,
        readme: false,
        report_only: false,
    };
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => o.runs = it.next().context("--runs N")?.parse()?,
            "--quick" => {
                o.quick = true;
                o.runs = 3;
            }
            "--only" => {
                o.only = Some(
                    it.next()
                        .context("--only KEY,...")?
                        .split(',')
                        .map(String::from)
                        .collect(),
                )
            }
            "--ours" => o.ours = it.next().context("--ours auto|binary|harness")?.clone(),
            "--no-migration" => o.migration = false,
            "--readme" => o.readme = true,
            "--report-only" => o.report_only = true,
            "--" => {}
            other => bail!("bench-compare: unknown option {other}"),
        }
    }
    Ok(o)
}

pub(crate) fn guests_dir() -> PathBuf {
    root().join("guests")
}

pub(crate) fn qemu() -> PathBuf {
    std::env::var_os("QEMU")
        .map(PathBuf::from)
        .unwrap_or_else(|| "qemu-system-ppc64".into())
}

/// `qemu-system-ppc64 -version`, first line.
pub(crate) fn qemu_version() -> String {
    Command::new(qemu())
        .arg("-version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "qemu-system-ppc64: not found".into())
}

/// One boot of `spec` on `program`: the guest's figures, or why not.
pub(crate) fn boot_once(
    program: &Path,
    spec: &VmSpec,
    scratch: &Path,
    timeout: Duration,
) -> Result<(Vec<String>, Duration)> {
    let qmp = scratch.join("qmp");
    let _ = std::fs::remove_file(&qmp);
    let mut vm = Vm::spawn(
        program,
        &spec.args(&qmp, None),
        &qmp,
        &scratch.join("stderr"),
    )?;
    let (status, wall) = vm.drive(timeout)?;
    let t = std::mem::take(&mut vm.transcript);
    if status != 0 || !t.iter().any(|l| l == "EXIT: STATUS=1") {
        let err = crate::vm::read_text(&scratch.join("stderr"));
        bail!(
            "{} exited {status}:\n{}\n{err}",
            program.display(),
            t.join("\n")
        );
    }
    Ok((t, wall))
}

/// The `pseries` binary if it boots a guest, else the harness.
pub(crate) fn find_ours(choice: &str, scratch: &Path) -> Result<Ours> {
    if choice != "harness" {
        let bin = bench::build_binary("pseries")?;
        let spec = spec_of("bench-hcall", 1, "pseries", "n=1000");
        match boot_once(&bin, &spec, scratch, Duration::from_secs(60)) {
            Ok(_) => return Ok(Ours::Binary(bin)),
            Err(e) if choice == "binary" => return Err(e.context("the pseries binary")),
            Err(e) => {
                let first = format!("{e:#}");
                eprintln!(
                    "bench-compare: the pseries binary does not boot bench-hcall yet ({}); using the in-process harness",
                    first.lines().next().unwrap_or("")
                );
            }
        }
    }
    Ok(Ours::Harness(bench::bench_executable(
        "spapr-machine",
        "guest",
    )?))
}

fn spec_of(image: &str, smp: u32, machine: &str, append: &str) -> VmSpec {
    let g = guests_dir();
    VmSpec {
        machine: machine.into(),
        smp,
        memory: "512M".into(),
        bios: g.join("images/firmware.bin"),
        kernel: g.join(format!("images/{image}.elf")),
        append: append.into(),
    }
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// Samples of one metric on one VM.
#[derive(Default)]
struct Samples {
    values: Vec<f64>,
    unit: String,
    failures: Vec<String>,
}

fn record(s: &mut Samples, metric: &str, result: &Result<(Vec<String>, Duration)>) {
    match result {
        Ok((_, wall)) if metric == WALL => {
            s.values.push(wall.as_secs_f64() * 1e3);
            s.unit = "ms".into();
        }
        Ok((t, _)) => match bench_lines(t).into_iter().find(|b| b.name == metric) {
            Some(b) => {
                s.values.push(b.cost);
                s.unit = b.unit;
            }
            None => s.failures.push(format!("no TIME: BENCH {metric} line")),
        },
        Err(e) => s
            .failures
            .push(format!("{e:#}").lines().next().unwrap_or("").to_string()),
    }
}

fn append_for(c: &Config, quick: bool) -> String {
    if quick {
        c.append.replace("n=100000", "n=10000")
    } else {
        c.append.to_string()
    }
}

/// Runs the guest comparison and the migration comparison, writes
/// `compare.json` and the report.
pub(crate) fn bench_compare(rest: &[String]) -> Result<()> {
    let o = parse(rest)?;
    if o.report_only {
        report::write()?;
        if o.readme {
            report::update_readme()?;
        }
        return Ok(());
    }
    let out_dir = report::report_dir();
    let scratch = out_dir.join("scratch");
    std::fs::create_dir_all(&scratch)?;
    let ours = find_ours(&o.ours, &scratch)?;
    eprintln!("bench-compare: ours = {}", ours.describe());
    let q = qemu();
    let mut workloads = Vec::new();
    let mut skipped = Vec::new();
    for c in CONFIGS {
        if o.only
            .as_ref()
            .is_some_and(|k| !k.iter().any(|k| k == c.key))
        {
            continue;
        }
        let spec = spec_of(c.image, c.smp, c.machine, &append_for(c, o.quick));
        if !spec.kernel.exists() {
            let rel = spec.kernel.strip_prefix(root()).unwrap_or(&spec.kernel);
            skipped.push(json!({"key": c.key, "why": format!("no guest image {}", rel.display())}));
            continue;
        }
        let mut qemu_s: Vec<Samples> = c.metrics.iter().map(|_| Samples::default()).collect();
        let mut ours_s: Vec<Samples> = c.metrics.iter().map(|_| Samples::default()).collect();
        for run in 0..o.runs {
            // Alternate which VM goes first, so that a drift in the
            // machine's load does not favour one side.
            let order: [bool; 2] = if run % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for is_qemu in order {
                let program: &Path = if is_qemu { &q } else { ours.program() };
                let r = boot_once(program, &spec, &scratch, Duration::from_secs(600));
                let side = if is_qemu { &mut qemu_s } else { &mut ours_s };
                for (i, (metric, _)) in c.metrics.iter().enumerate() {
                    record(&mut side[i], metric, &r);
                }
                let shown = match &r {
                    Ok(_) => c
                        .metrics
                        .iter()
                        .enumerate()
                        .map(|(i, (m, _))| {
                            format!(
                                "{m}={:.0}",
                                side[i].values.last().copied().unwrap_or(f64::NAN)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                    Err(e) => format!("FAILED: {}", format!("{e:#}").lines().next().unwrap_or("")),
                };
                eprintln!(
                    "bench-compare: {} run {}/{} {}: {shown}",
                    c.key,
                    run + 1,
                    o.runs,
                    if is_qemu { "qemu" } else { "ours" }
                );
            }
        }
        for (i, (metric, class)) in c.metrics.iter().enumerate() {
            let (qs, os) = (&qemu_s[i], &ours_s[i]);
            let (qm, om) = (median(&qs.values), median(&os.values));
            let ratio = match (qm, om) {
                (Some(q), Some(o)) if q > 0.0 => Some(o / q),
                _ => None,
            };
            workloads.push(json!({
                "key": c.key,
                "metric": metric,
                "class": class.name(),
                "image": c.image,
                "smp": c.smp,
                "machine": c.machine,
                "append": append_for(c, o.quick),
                "unit": if os.unit.is_empty() { &qs.unit } else { &os.unit },
                "qemu": qs.values,
                "ours": os.values,
                "qemu_median": qm,
                "ours_median": om,
                "ratio": ratio,
                "target": class.target(),
                "failures": {"qemu": qs.failures, "ours": os.failures},
            }));
        }
    }
    let path = out_dir.join("compare.json");
    // With --only, what was not run now is kept from the last run.
    let previous: Value = match &o.only {
        Some(_) => std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null),
        None => Value::Null,
    };
    let rerun: Vec<&str> = workloads.iter().filter_map(|w| w["key"].as_str()).collect();
    let kept: Vec<Value> = previous["workloads"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|w| !w["key"].as_str().is_some_and(|k| rerun.contains(&k)))
        .cloned()
        .collect();
    let mut workloads: Vec<Value> = kept.into_iter().chain(workloads).collect();
    workloads.sort_by_key(|w| CONFIGS.iter().position(|c| w["key"] == c.key));
    let migration = if o.migration
        && o.only
            .as_ref()
            .is_none_or(|k| k.iter().any(|k| k == "migration"))
    {
        mig_compare::compare(o.runs, &scratch, &ours)?
    } else {
        previous["migration"].clone()
    };
    let doc = json!({
        "date": report::now_utc(),
        "host": report::host_description(),
        "qemu": qemu_version(),
        "ours": ours.describe(),
        "runs": o.runs,
        "quick": o.quick,
        "workloads": workloads,
        "skipped": skipped,
        "migration": migration,
    });
    std::fs::write(&path, serde_json::to_string_pretty(&doc)?)?;
    eprintln!("bench-compare: wrote {}", path.display());
    report::write()?;
    if o.readme {
        report::update_readme()?;
    }
    Ok(())
}
