//! What the report reads: criterion's estimates and the benches' logs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

/// One criterion result.
pub(crate) struct Estimate {
    /// Time per iteration (slope when criterion has one, else mean), ns.
    pub ns: f64,
    /// Older than this `cargo xtask bench` run.
    pub stale: bool,
    /// ("Bytes" | "Elements", amount per iteration).
    pub throughput: Option<(String, f64)>,
}

impl Estimate {
    /// Throughput in words ("123 MiB/s", "45 M elements/s").
    pub fn throughput_text(&self) -> String {
        match &self.throughput {
            Some((k, n)) if k.starts_with("Bytes") => {
                format!("{:.0} MiB/s", n / self.ns * 1e9 / (1 << 20) as f64)
            }
            Some((_, n)) => format!("{:.1} M elements/s", n / self.ns * 1e3),
            None => String::new(),
        }
    }
}

/// Every criterion result under `<target>/criterion`, by full id.
pub(crate) struct Crit {
    map: BTreeMap<String, Estimate>,
}

fn walk(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "new") {
                found.push(p);
            } else {
                walk(&p, found);
            }
        }
    }
}

impl Crit {
    /// Reads every `new/benchmark.json` + `new/estimates.json`; results
    /// written before `since` (seconds since the epoch) are marked stale.
    pub fn load(dir: &Path, since: u64) -> Self {
        let mut dirs = Vec::new();
        walk(dir, &mut dirs);
        let mut map = BTreeMap::new();
        for d in dirs {
            let read = |f: &str| -> Option<Value> {
                serde_json::from_str(&std::fs::read_to_string(d.join(f)).ok()?).ok()
            };
            let (Some(b), Some(e)) = (read("benchmark.json"), read("estimates.json")) else {
                continue;
            };
            let ns = e["slope"]["point_estimate"]
                .as_f64()
                .or_else(|| e["mean"]["point_estimate"].as_f64());
            let Some(ns) = ns else { continue };
            let modified = std::fs::metadata(d.join("estimates.json"))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            let throughput = b["throughput"].as_object().and_then(|o| {
                let (k, v) = o.iter().next()?;
                Some((k.clone(), v.as_f64()?))
            });
            let id = b["full_id"].as_str().unwrap_or_default().to_string();
            map.insert(
                id,
                Estimate {
                    ns,
                    stale: modified < since,
                    throughput,
                },
            );
        }
        Self { map }
    }

    /// Nanoseconds per iteration of `id`.
    pub fn ns(&self, id: &str) -> Option<f64> {
        self.map.get(id).map(|e| e.ns)
    }

    /// Every result, by id.
    pub fn all(&self) -> impl Iterator<Item = (&String, &Estimate)> {
        self.map.iter()
    }
}

/// The lines of every bench log, by log name (`<pkg>.<bench>`).
pub(crate) struct Logs {
    files: BTreeMap<String, Vec<String>>,
}

/// One scaling figure.
pub(crate) struct Scaling {
    pub label: String,
    /// CPU (or wall) time per cycle with one thread, ns.
    pub one_ns: Option<f64>,
    /// The same with two threads (slower thread), ns.
    pub two_ns: Option<f64>,
    pub wall_x: Option<f64>,
    pub cpu_x: Option<f64>,
}

fn num_after(text: &str, key: &str) -> Option<f64> {
    let rest = &text[text.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

impl Logs {
    /// Reads `dir/*.log`.
    pub fn load(dir: &Path) -> Self {
        let mut files = BTreeMap::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "log") {
                let name = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                files.insert(name, text.lines().map(String::from).collect());
            }
        }
        Self { files }
    }

    fn lines(&self, log: &str) -> impl Iterator<Item = &String> {
        self.files.get(log).into_iter().flatten()
    }

    fn all_lines(&self) -> impl Iterator<Item = &String> {
        self.files.values().flatten()
    }

    /// Allocations in 10 000 cycles of `id`, as the bench reported them.
    pub fn allocations(&self, id: &str) -> Option<u64> {
        // intc-xics: "<id>: 0 allocations in 10000 cycles".
        let xics = format!("{id}: ");
        // ours: "PERF alloc <id> <n> per 10000".
        let ours = format!("PERF alloc {id} ");
        for l in self.all_lines() {
            if let Some(rest) = l.strip_prefix(&xics) {
                if let Some(n) = rest.strip_suffix(" allocations in 10000 cycles") {
                    return n.parse().ok();
                }
            }
            if let Some(rest) = l.strip_prefix(&ours) {
                return rest.split_whitespace().next()?.parse().ok();
            }
        }
        // intc-xive asserts zero for every checked cycle, or fails.
        if (id.starts_with("msi/") || id.starts_with("ipi/"))
            && self
                .lines("intc-xive.cycles")
                .any(|l| l.starts_with("allocations during the checked cycles: 0"))
        {
            return Some(0);
        }
        None
    }

    /// Every allocation count the benches printed: (path, allocations per
    /// 10 000 calls).
    pub fn all_allocations(&self) -> Vec<(String, u64)> {
        let mut v = Vec::new();
        for l in self.all_lines() {
            if let Some(rest) = l.strip_prefix("PERF alloc ") {
                let mut w = rest.split_whitespace();
                if let (Some(id), Some(Ok(n))) = (w.next(), w.next().map(str::parse)) {
                    v.push((id.to_string(), n));
                }
            } else if let Some((id, n)) = l.split_once(": ") {
                if let Some(n) = n.strip_suffix(" allocations in 10000 cycles") {
                    if let Ok(n) = n.parse() {
                        v.push((format!("intc-xics {id}"), n));
                    }
                }
            }
        }
        if self
            .lines("intc-xive.cycles")
            .any(|l| l.starts_with("allocations during the checked cycles: 0"))
        {
            v.push((
                "intc-xive msi and ipi cycles, every size, 1 and 2 threads (asserted)".into(),
                0,
            ));
        }
        v
    }

    /// A growth figure that stands the load of a shared host: intc-xics'
    /// and the machine bench's interleaved medians (`<large>: interleaved
    /// median X ns/cycle (Yx the smallest size)`, `PERF growth <large> Y`),
    /// or intc-xive's one-thread CPU-time medians (`  <id>: 1 thread X, ...`).
    pub fn robust_growth(&self, small: &str, large: &str) -> Option<(f64, &'static str)> {
        let xics = format!("{large}: interleaved median ");
        let ours = format!("PERF growth {large} ");
        for l in self.all_lines() {
            if l.starts_with(&xics) {
                return Some((num_after(l, "ns/cycle (")?, "interleaved medians"));
            }
            if let Some(rest) = l.strip_prefix(&ours) {
                return Some((num_after(rest, "")?, "interleaved medians"));
            }
        }
        let cpu = |id: &str| {
            let key = format!("{}: 1 thread ", id.strip_suffix("/thr1")?);
            self.lines("intc-xive.cycles")
                .find_map(|l| num_after(l.trim().strip_prefix(&key)?, ""))
        };
        let (s, l) = (cpu(small)?, cpu(large)?);
        (s > 0.0).then(|| (l / s, "thread-CPU medians of 5"))
    }

    /// Scaling figures: intc-xive's thread-CPU report with criterion's
    /// wall times, and the machine bench's `PERF scaling` lines.
    pub fn scaling(&self, crit: &Crit) -> Vec<Scaling> {
        let mut v = Vec::new();
        for l in self.lines("intc-xive.cycles") {
            // "  msi/ctx4/lisn64: 1 thread 123, 2 threads (slower of the two) 130 -> throughput x1.89"
            let Some((id, rest)) = l.trim().split_once(": 1 thread ") else {
                continue;
            };
            let one = num_after(rest, "");
            let two = num_after(rest, "(slower of the two) ");
            let wall = match (
                crit.ns(&format!("{id}/thr1")),
                crit.ns(&format!("{id}/thr2")),
            ) {
                // One iteration of thr2 is a cycle on each thread.
                (Some(a), Some(b)) if b > 0.0 => Some(2.0 * a / b),
                _ => None,
            };
            v.push(Scaling {
                label: format!("XIVE crate {id}"),
                one_ns: one,
                two_ns: two,
                wall_x: wall,
                cpu_x: num_after(rest, "throughput x"),
            });
        }
        for l in self.all_lines() {
            let Some(rest) = l.strip_prefix("PERF scaling ") else {
                continue;
            };
            let name = rest.split_whitespace().next().unwrap_or("");
            v.push(Scaling {
                label: format!("{name} through the Machine"),
                one_ns: num_after(rest, "cpu_1thr_ns="),
                two_ns: num_after(rest, "cpu_2thr_ns="),
                wall_x: num_after(rest, "wall_x="),
                cpu_x: num_after(rest, "cpu_x="),
            });
        }
        v
    }
}

fn fmt_time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Caps, stream save/load, interpreter speed, the guest harness's
/// self-check and the machine migration bench.
pub(crate) fn other_figures(md: &mut String, crit: &Crit, logs: &Logs) {
    let section = |md: &mut String, title: &str, prefixes: &[&str]| {
        let _ = writeln!(
            md,
            "### {title}\n\n| bench | time | throughput |\n|---|---|---|"
        );
        for (id, e) in crit.all() {
            if prefixes.iter().any(|p| id.starts_with(p)) {
                let _ = writeln!(
                    md,
                    "| {id} | {} | {} |",
                    fmt_time(e.ns),
                    e.throughput_text()
                );
            }
        }
        md.push('\n');
    };
    section(md, "Capabilities: check_incoming (spapr-caps)", &["caps/"]);
    for l in logs.lines("spapr-caps.caps") {
        if l.starts_with("PERF alloc") {
            let _ = writeln!(md, "- `{l}`");
        }
    }
    section(md, "MSI allocator (spapr-irq)", &["msi_allocator/"]);
    section(
        md,
        "Stream save/load (migration crate)",
        &["machine_state/", "ram_64MiB/"],
    );
    for l in logs.lines("migration.save_load") {
        if l.contains("stream") {
            let _ = writeln!(md, "- {l}");
        }
    }
    let _ = writeln!(md, "\n### Interpreter (ppc-cpu): guest instructions per second (`sieve`: wall time; `*_cpu`: thread CPU time)\n\n| bench | time per 20M instructions | instructions/s |\n|---|---|---|");
    for (id, e) in crit.all() {
        if id.starts_with("sieve") || id.starts_with("calls") {
            let _ = writeln!(
                md,
                "| {id} | {} | {} |",
                fmt_time(e.ns),
                e.throughput_text()
            );
        }
    }
    let _ = writeln!(
        md,
        "\n### Guests in-process (spapr-machine bench `guest`, self-check counts)\n"
    );
    for l in logs.lines("spapr-machine.guest") {
        if l.starts_with("TIME: BENCH") {
            let _ = writeln!(md, "- `{l}`");
        }
    }
    let _ = writeln!(
        md,
        "\n### Machine migration in-process (spapr-machine bench `migration`)\n"
    );
    for l in logs.lines("spapr-machine.migration") {
        if l.starts_with("PERF migration") {
            let _ = writeln!(md, "- `{l}`");
        }
    }
}
