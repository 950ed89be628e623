//! The performance report (issue 9): `<target>/perf-report/report.md`,
//! `report.png` and `report.json`, from what `cargo xtask bench` and
//! `bench-compare` left behind: criterion's `estimates.json` files, the
//! benches' logs (allocation counts, interleaved medians, thread-CPU
//! scaling lines) and `compare.json` (guests and migration against QEMU).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::report_data::{self, Crit, Logs};
use crate::{plot, root};

/// `<target>/perf-report`, with the target dir cargo uses.
pub(crate) fn report_dir() -> PathBuf {
    target_dir().join("perf-report")
}

/// `$CARGO_TARGET_DIR` or `<workspace>/target`.
pub(crate) fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => root().join(d),
        None => root().join("target"),
    }
}

/// The current UTC time, `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn now_utc() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// CPU model, cores, kernel and load average of this host.
pub(crate) fn host_description() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU".to_string(), |s| s.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{model}, {cores} cores, Linux {}, load average {} at the start (shared with other jobs)",
        kernel.trim(),
        load.join(" ")
    )
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or("–".to_string(), f)
}

fn verdict(value: Option<f64>, target: Option<f64>) -> &'static str {
    match (value, target) {
        (Some(v), Some(t)) if v <= t => "met",
        (Some(_), Some(_)) => "**not met**",
        _ => "–",
    }
}

/// One crate-level cost, small against large size.
struct GrowthRow {
    label: &'static str,
    /// For the plot.
    short: &'static str,
    small: &'static str,
    large: &'static str,
    /// Whether the growth target (1.2x) applies.
    target: bool,
}

const GROWTH: &[GrowthRow] = &[
    GrowthRow { short: "XICS MSI cycle", label: "XICS MSI cycle (set_irq, H_XIRR, H_EOI), 64 src/4 cpu → 4096 src/1024 cpu", small: "msi_cycle/64src_4cpu", large: "msi_cycle/4096src_1024cpu", target: true },
    GrowthRow { short: "XICS IPI cycle", label: "XICS IPI cycle (H_IPI, H_XIRR, H_IPI 0xFF, H_EOI), same sizes", small: "ipi_cycle/64src_4cpu", large: "ipi_cycle/4096src_1024cpu", target: true },
    GrowthRow { short: "XIVE MSI cycle", label: "XIVE MSI cycle (set_irq → queue → TIMA ACK → ESB EOI), 4 ctx/64 LISN → 1024 ctx/8192 LISN", small: "msi/ctx4/lisn64/thr1", large: "msi/ctx1024/lisn8192/thr1", target: true },
    GrowthRow { short: "XIVE IPI cycle", label: "XIVE IPI cycle (trigger page store …), same sizes", small: "ipi/ctx4/lisn64/thr1", large: "ipi/ctx1024/lisn8192/thr1", target: true },
    GrowthRow { short: "machine XICS delivery", label: "Machine XICS delivery (Machine::set_irq, call_hcall H_XIRR/H_EOI), 2 → 256 vCPUs", small: "machine_delivery/xics/2cpu", large: "machine_delivery/xics/256cpu", target: true },
    GrowthRow { short: "machine XIVE delivery", label: "Machine XIVE delivery (Machine::set_irq, call_mmio TIMA/ESB), 2 → 256 vCPUs", small: "machine_delivery/xive/2cpu", large: "machine_delivery/xive/256cpu", target: true },
    GrowthRow { short: "machine XICS IPI", label: "Machine XICS IPI to itself (call_hcall H_IPI, H_XIRR, H_IPI 0xFF, H_EOI), 2 → 256 vCPUs", small: "machine_delivery/xics_ipi/2cpu", large: "machine_delivery/xics_ipi/256cpu", target: true },
    GrowthRow { short: "machine XIVE IPI", label: "Machine XIVE IPI to itself (trigger page store, TIMA ACK, queue, ESB EOI, CPPR), 2 → 256 vCPUs", small: "machine_delivery/xive_ipi/2cpu", large: "machine_delivery/xive_ipi/256cpu", target: true },
    GrowthRow { short: "machine hcall H_CPPR", label: "Machine hcall round trip (call_hcall H_CPPR), 2 → 256 vCPUs", small: "machine_hcall/h_cppr/2cpu", large: "machine_hcall/h_cppr/256cpu", target: true },
    GrowthRow { short: "MSI allocator, 1 MSI-X", label: "MSI allocator alloc+free of 1 MSI-X, empty map → all 3328 MSI numbers used but one", small: "msi_allocator/alloc_free_1/empty", large: "msi_allocator/alloc_free_1/full", target: true },
    GrowthRow { short: "MSI allocator, 8-vector MSI", label: "MSI allocator alloc+free of an 8-vector MSI block, empty → all used but the last 8", small: "msi_allocator/alloc_free_8msi/empty", large: "msi_allocator/alloc_free_8msi/full", target: true },
    GrowthRow { short: "caps check_incoming (not a size)", label: "Caps check_incoming, no caps in the stream → all 17 carried", small: "caps/check_incoming/none_carried", large: "caps/check_incoming/all_carried", target: false },
];

fn growth_table(md: &mut String, crit: &Crit, logs: &Logs, out: &mut Vec<Value>) {
    md.push_str("| path | small | large | growth (criterion) | growth (load-robust) | target ≤ 1.2x | allocations / 10k (small, large) |\n|---|---|---|---|---|---|---|\n");
    for g in GROWTH {
        let (s, l) = (crit.ns(g.small), crit.ns(g.large));
        let growth = match (s, l) {
            (Some(s), Some(l)) if s > 0.0 => Some(l / s),
            _ => None,
        };
        let robust = logs.robust_growth(g.small, g.large);
        let inter = robust.map(|r| r.0);
        let judged = inter.or(growth);
        let allocs = format!(
            "{}, {}",
            logs.allocations(g.small)
                .map_or("–".into(), |a| a.to_string()),
            logs.allocations(g.large)
                .map_or("–".into(), |a| a.to_string())
        );
        let target = g.target.then_some(1.2);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            g.label,
            opt(s, fmt_ns),
            opt(l, fmt_ns),
            opt(growth, |x| format!("{x:.2}x")),
            robust.map_or("–".into(), |(x, how)| format!("{x:.2}x ({how})")),
            if g.target {
                verdict(judged, target)
            } else {
                "(not a size target)"
            },
            allocs
        );
        out.push(
            json!({"label": g.label, "short": g.short, "small_ns": s, "large_ns": l, "growth": growth,
                        "interleaved_growth": inter, "how": robust.map(|r| r.1), "target": target,
                        "alloc_small": logs.allocations(g.small),
                        "alloc_large": logs.allocations(g.large)}),
        );
    }
}

fn guest_table(md: &mut String, cmp: &Value) {
    md.push_str("| workload | guest, -append | unit | QEMU median | ours median | ours / QEMU | target | runs (QEMU / ours ok) |\n|---|---|---|---|---|---|---|---|\n");
    for w in cmp["workloads"].as_array().into_iter().flatten() {
        let ratio = w["ratio"].as_f64();
        let target = w["target"].as_f64();
        let _ = writeln!(
            md,
            "| {} | {} `{}` (smp {}) | {} | {} | {} | {} | {} | {} / {} |",
            w["metric"].as_str().unwrap_or(""),
            w["image"].as_str().unwrap_or(""),
            match w["append"].as_str().unwrap_or("") {
                "" => "(none)",
                a => a,
            },
            w["smp"],
            w["unit"].as_str().unwrap_or(""),
            opt(w["qemu_median"].as_f64(), |x| format!("{x:.0}")),
            opt(w["ours_median"].as_f64(), |x| format!("{x:.0}")),
            opt(ratio, |x| format!("{x:.3}")),
            match target {
                Some(t) => format!("≤ {t} ({})", verdict(ratio, target)),
                None => "none set".into(),
            },
            w["qemu"].as_array().map_or(0, Vec::len),
            w["ours"].as_array().map_or(0, Vec::len),
        );
    }
    for s in cmp["skipped"].as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "| {} | not run: {} | | | | | | |",
            s["key"].as_str().unwrap_or(""),
            s["why"].as_str().unwrap_or("")
        );
    }
}

fn migration_table(md: &mut String, m: &Value) {
    if m.is_null() {
        md.push_str("Not run.\n");
        return;
    }
    let _ = writeln!(
        md,
        "Guest `{}`, {} RAM, {} vCPUs, {}; ours: {}; medians of the runs that passed.\n",
        m["guest"].as_str().unwrap_or(""),
        m["memory"].as_str().unwrap_or(""),
        m["smp"],
        m["machine"].as_str().unwrap_or(""),
        m["ours_method"].as_str().unwrap_or("in-process")
    );
    md.push_str("| | QEMU 7.2 | ours | ours / QEMU |\n|---|---|---|---|\n");
    let _ = writeln!(
        md,
        "| downtime (stop → running on the destination) | {} | {} | {} |",
        opt(m["qemu_downtime_us"].as_f64(), |x| fmt_ns(x * 1e3)),
        opt(m["ours_downtime_us"].as_f64(), |x| fmt_ns(x * 1e3)),
        opt(m["downtime_ratio"].as_f64(), |x| format!("{x:.2}"))
    );
    let _ = writeln!(
        md,
        "| stream size | {} | {} | {} |",
        opt(m["qemu_bytes"].as_f64(), |x| format!(
            "{:.0} KiB",
            x / 1024.0
        )),
        opt(m["ours_bytes"].as_f64(), |x| format!(
            "{:.0} KiB",
            x / 1024.0
        )),
        opt(m["bytes_ratio"].as_f64(), |x| format!("{x:.2}"))
    );
}

/// Every migration run, as measured (for the report, not the README).
fn migration_runs(md: &mut String, m: &Value) {
    for (side, k) in [("QEMU 7.2", "qemu"), ("ours", "ours")] {
        let _ = writeln!(md, "\n{side}:\n");
        for r in m[k].as_array().into_iter().flatten() {
            let _ = writeln!(md, "- `{r}`");
        }
    }
}

fn scaling_table(md: &mut String, crit: &Crit, logs: &Logs, out: &mut Vec<Value>) {
    md.push_str("| path | CPU per cycle, 1 thread | CPU per cycle, 2 threads (slower) | wall throughput 2/1 | CPU-time throughput 2/1 | target ≥ 1.6x |\n|---|---|---|---|---|---|\n");
    for s in logs.scaling(crit) {
        let judged = s.cpu_x.or(s.wall_x);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            s.label,
            opt(s.one_ns, fmt_ns),
            opt(s.two_ns, fmt_ns),
            opt(s.wall_x, |x| format!("{x:.2}x")),
            opt(s.cpu_x, |x| format!("{x:.2}x")),
            match judged {
                Some(x) if x >= 1.6 => "met",
                Some(_) => "**not met**",
                None => "–",
            }
        );
        out.push(
            json!({"label": s.label, "one_ns": s.one_ns, "two_ns": s.two_ns,
                        "wall_x": s.wall_x, "cpu_x": s.cpu_x}),
        );
    }
}

/// Writes report.md, report.json and report.png; returns the markdown.
pub(crate) fn write() -> Result<()> {
    let dir = report_dir();
    std::fs::create_dir_all(&dir)?;
    let benches: Value = read_json(&dir.join("benches.json"));
    let cmp: Value = read_json(&dir.join("compare.json"));
    let crit = Crit::load(
        &target_dir().join("criterion"),
        benches["started_epoch"].as_u64().unwrap_or(0),
    );
    let logs = Logs::load(&dir.join("logs"));
    let (md, doc) = render(&benches, &cmp, &crit, &logs);
    std::fs::write(dir.join("report.md"), &md)?;
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(&doc)?)?;
    let png = dir.join("report.png");
    if let Err(e) = plot::draw(&png, &doc) {
        eprintln!("report: no plot ({e:#})");
    }
    eprintln!("report: {}", dir.join("report.md").display());
    Ok(())
}

fn read_json(p: &Path) -> Value {
    std::fs::read_to_string(p)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

/// The summary part (also the README section).
fn summary(cmp: &Value, growth: &[Value], scaling: &[Value], allocs: &[(String, u64)]) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Measured {} on {}; QEMU: {}; ours: {}.\n",
        cmp["date"].as_str().unwrap_or("(no comparison run)"),
        cmp["host"].as_str().unwrap_or(&host_description()),
        cmp["qemu"].as_str().unwrap_or("–"),
        cmp["ours"].as_str().unwrap_or("–")
    );
    md.push_str("Guest level, each guest timing itself with the timebase, ours / QEMU as a ratio of medians (lower is better):\n\n");
    guest_table(&mut md, cmp);
    md.push_str("\nMigration over a unix socket:\n\n");
    migration_table(&mut md, &cmp["migration"]);
    crate_summary(&mut md, growth, scaling, allocs);
    md
}

/// The crate-level lines of the summary: growth, allocations, scaling.
fn crate_summary(md: &mut String, growth: &[Value], scaling: &[Value], allocs: &[(String, u64)]) {
    let judged = |g: &Value| g["interleaved_growth"].as_f64().or(g["growth"].as_f64());
    let interrupt: Vec<&Value> = growth
        .iter()
        .filter(|g| g["target"].as_f64().is_some())
        .filter(|g| {
            !g["label"]
                .as_str()
                .unwrap_or("")
                .starts_with("MSI allocator")
        })
        .collect();
    // The worst of the paths measured one size after the other (or by
    // criterion alone), and of those measured with sizes interleaved.
    let worst = |interleaved: bool| {
        interrupt
            .iter()
            .filter(|g| (g["how"] == "interleaved medians") == interleaved)
            .filter_map(|g| Some((judged(g)?, g["short"].as_str().unwrap_or(""))))
            .max_by(|a, b| a.0.total_cmp(&b.0))
    };
    let show = |w: Option<(f64, &str)>| {
        w.map_or("–".into(), |(x, n)| {
            format!("{x:.2}x, {n}, {}", verdict(Some(x), Some(1.2)))
        })
    };
    let msi = growth
        .iter()
        .filter(|g| {
            g["label"]
                .as_str()
                .unwrap_or("")
                .starts_with("MSI allocator")
        })
        .filter_map(judged)
        .fold(None::<f64>, |m, x| Some(m.map_or(x, |m| m.max(x))));
    let nonzero: Vec<String> = allocs
        .iter()
        .filter(|a| a.1 != 0)
        .map(|(id, n)| format!("{id} ({n} per 10 000)"))
        .collect();
    let cpu_x = |prefix: &str| -> Vec<f64> {
        scaling
            .iter()
            .filter(|s| s["label"].as_str().unwrap_or("").starts_with(prefix))
            .filter_map(|s| s["cpu_x"].as_f64())
            .collect()
    };
    let range = |v: &[f64]| match (
        v.iter().cloned().reduce(f64::min),
        v.iter().cloned().reduce(f64::max),
    ) {
        (Some(a), Some(b)) if a == b => format!("{a:.2}x"),
        (Some(a), Some(b)) => format!("{a:.2}x–{b:.2}x"),
        _ => "–".into(),
    };
    let _ = writeln!(md, "\nCrate level (details in the report):\n");
    let _ = writeln!(
        md,
        "- cost growth from the small to the large size (target ≤ 1.2x), interrupt and hcall paths through `dyn InterruptController` and the machine: worst with the sizes measured in turn {}; worst of the others (thread-CPU medians or criterion, measured one size after the other, noisy on a shared host) {}; MSI allocator on a full map: {};",
        show(worst(true)),
        show(worst(false)),
        opt(msi, |x| format!(
            "{x:.2}x, {}",
            if x <= 1.2 { "met" } else { "**not met**" }
        ))
    );
    let _ = writeln!(
        md,
        "- allocations on the hot paths: {} of {} paths allocate{}",
        nonzero.len(),
        allocs.len(),
        if nonzero.is_empty() {
            " (target zero: met)".to_string()
        } else {
            format!(" (target zero): {}", nonzero.join(", "))
        }
    );
    let _ = writeln!(
        md,
        "- interrupt delivery from 1 to 2 device threads (thread CPU time, target ≥ 1.6x): through the machine, XICS {} and XIVE {}; XIVE crate {} over its 8 configurations.",
        range(&cpu_x("machine/xics")),
        range(&cpu_x("machine/xive")),
        range(&cpu_x("XIVE crate"))
    );
}

fn render(benches: &Value, cmp: &Value, crit: &Crit, logs: &Logs) -> (String, Value) {
    let mut growth = Vec::new();
    let mut scaling = Vec::new();
    let mut crate_md = String::new();
    growth_table(&mut crate_md, crit, logs, &mut growth);
    let mut scale_md = String::new();
    scaling_table(&mut scale_md, crit, logs, &mut scaling);
    let allocs = logs.all_allocations();
    let mut md = String::from("# pseries-rs performance report\n\n");
    md.push_str(&summary(cmp, &growth, &scaling, &allocs));
    md.push_str("\n### Every migration run\n");
    migration_runs(&mut md, &cmp["migration"]);
    md.push_str("\n![ratios](report.png)\n\n## Crate level: delivery cycles and hot paths\n\n");
    md.push_str("Criterion estimates (quick mode unless `--full`); the load-robust growth (sizes measured in turn, or thread-CPU medians) is the one judged when present. Allocation counts come from the benches' counting allocators.\n\n");
    md.push_str(&crate_md);
    md.push_str("\n## Allocations on the hot paths (target: zero)\n\n| path | allocations per 10 000 calls | |\n|---|---|---|\n");
    for (id, n) in &allocs {
        let _ = writeln!(
            md,
            "| {id} | {n} | {} |",
            if *n == 0 { "met" } else { "**not met**" }
        );
    }
    md.push_str("\n## Scaling: device interrupts from 1 and 2 threads to different vCPUs\n\n");
    md.push_str("Each thread is the device of its own source and the vCPU it targets (raise, acknowledge, EOI). On this shared 2-core host the wall figure mostly measures the scheduler; the CPU-time figure (2 × one-thread CPU per cycle / slower thread's CPU per cycle with two) is what two free cores would give.\n\n");
    md.push_str(&scale_md);
    md.push_str("\n## Other figures\n\n");
    report_data::other_figures(&mut md, crit, logs);
    md.push_str(
        "\n## Every criterion result\n\n| bench | estimate | throughput |\n|---|---|---|\n",
    );
    for (id, e) in crit.all() {
        let _ = writeln!(
            md,
            "| {id}{} | {} | {} |",
            if e.stale { " (stale)" } else { "" },
            fmt_ns(e.ns),
            e.throughput_text()
        );
    }
    md.push_str("\n## Bench runs\n\n");
    for r in benches["runs"].as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "- {} / {}: {} in {:.0} s",
            r["package"].as_str().unwrap_or(""),
            r["bench"].as_str().unwrap_or(""),
            if r["ok"] == true { "ok" } else { "FAILED" },
            r["seconds"].as_f64().unwrap_or(0.0)
        );
    }
    let criterion_all: BTreeMap<String, Value> = crit
        .all()
        .map(|(k, e)| (k.clone(), json!({"ns": e.ns, "stale": e.stale})))
        .collect();
    let doc = json!({
        "summary_md": summary(cmp, &growth, &scaling, &allocs),
        "compare": cmp,
        "growth": growth,
        "scaling": scaling,
        "criterion": criterion_all,
    });
    (md, doc)
}

/// Replaces README.md's "## Performance" section (the last one) with the
/// latest summary.
pub(crate) fn update_readme() -> Result<()> {
    let doc = read_json(&report_dir().join("report.json"));
    let summary = doc["summary_md"]
        .as_str()
        .context("no report.json: run cargo xtask bench first")?;
    let path = root().join("README.md");
    let text = std::fs::read_to_string(&path)?;
    let head = match text.find("\n## Performance\n") {
        Some(i) => &text[..i + 1],
        None => text.as_str(),
    };
    let mut out = head.trim_end().to_string();
    out.push_str("\n\n## Performance\n\n");
    out.push_str(README_INTRO);
    out.push_str(summary);
    std::fs::write(&path, out)?;
    eprintln!("report: README.md Performance section updated");
    Ok(())
}

const README_INTRO: &str = "`cargo xtask bench` runs every criterion bench (quick mode; `--full` for criterion's normal sampling), then `cargo xtask bench-compare`, which boots the same guest images on QEMU 7.2 (TCG) and on our machine, alternating, five times each, and migrates the `migrate` guest on both; the report is `target/perf-report/report.md` with `report.png`. `cargo xtask bench --readme` refreshes this section.\n\n";
