//! Helpers shared by the integration tests: run a QEMU-style command line
//! through the crate the way the machine will.

#![allow(dead_code)]

use spapr_caps::*;

/// The CPU QEMU's `-cpu NAME` gives (its default revision).
pub fn cpu_named(name: &str) -> CpuInfo {
    match name {
        "POWER7" => CpuInfo::power7(),
        "POWER8" => CpuInfo::power8(),
        "POWER9" => CpuInfo::power9(),
        "POWER10" => CpuInfo::power10(),
        other => panic!("no CPU {other} in these tests"),
    }
}

/// The machine's default CPU.
pub fn default_cpu(mt: &MachineType) -> CpuInfo {
    CpuInfo::new(mt.default_cpu, mt.default_cpu_isa)
}

/// What a QEMU-style start printed and how it ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    /// stderr lines, with QEMU's program prefix.
    pub lines: Vec<String>,
    /// Exit status.
    pub status: i32,
}

const PROG: &str = "qemu-system-ppc64: ";

fn fail(mut lines: Vec<String>, e: &CapError) -> Run {
    lines.push(format!("{PROG}{e}"));
    if let Some(h) = e.hint() {
        lines.push(h);
    }
    Run { lines, status: 1 }
}

/// Runs `-machine <opts> <extra...>` up to the first reset: option parsing,
/// property setting, caps resolution (machine init) and apply checks
/// (reset). Machine properties that are not this crate's are ignored when
/// listed in `ignored`.
pub fn run(opts: &str, extra: &[&str], ignored: &[&str]) -> Run {
    let o = match MachineOptions::parse(opts) {
        Ok(o) => o,
        Err(e) => return fail(vec![], &e),
    };
    let mt = match o.machine_type() {
        Ok(m) => m,
        Err(e) => return fail(vec![], &e),
    };
    let mut settings = CapSettings::new(mt);
    let rest = match settings.apply_options(&o) {
        Ok(r) => r,
        Err(e) => return fail(vec![], &e),
    };
    let mut max_compat = None;
    for (k, v) in rest {
        match k {
            "max-cpu-compat" => match IsaLevel::parse_max_cpu_compat(v) {
                Ok(l) => max_compat = l,
                Err(e) => return fail(vec![], &e),
            },
            k if ignored.contains(&k) => {}
            k => panic!("unexpected machine property {k}"),
        }
    }
    let mut cpu = default_cpu(mt);
    let mut it = extra.iter();
    while let Some(&arg) = it.next() {
        match arg {
            "-cpu" => cpu = cpu_named(it.next().expect("-cpu needs a value")),
            "-smp" | "-m" => {
                it.next();
            }
            other => panic!("unexpected argument {other}"),
        }
    }
    let cpu = match cpu.with_max_compat(max_compat) {
        Ok(c) => c,
        Err(e) => return fail(vec![], &e),
    };
    let eff = match resolve(mt, &CapContext::tcg(cpu), &settings) {
        Ok(e) => e,
        Err(e) => return fail(vec![], &e),
    };
    match eff.apply_checks() {
        Ok(w) => Run {
            lines: w.iter().map(|w| format!("{PROG}warning: {w}")).collect(),
            status: 0,
        },
        Err(f) => fail(
            f.warnings
                .iter()
                .map(|w| format!("{PROG}warning: {w}"))
                .collect(),
            &f.error,
        ),
    }
}

/// Resolves `machine[,props]` with `cpu` under TCG; panics on error.
pub fn eff(opts: &str, cpu: &CpuInfo) -> EffectiveCaps {
    try_eff(opts, cpu).unwrap_or_else(|e| panic!("{opts}: {e}"))
}

/// Resolves `machine[,props]` with `cpu` under TCG.
pub fn try_eff(opts: &str, cpu: &CpuInfo) -> Result<EffectiveCaps, CapError> {
    let o = MachineOptions::parse(opts)?;
    let mt = o.machine_type()?;
    let mut s = CapSettings::new(mt);
    let rest = s.apply_options(&o)?;
    assert!(rest.is_empty(), "{opts}: unexpected {rest:?}");
    resolve(mt, &CapContext::tcg(cpu.clone()), &s)
}

/// What a source with caps `src` puts in its stream (subsections turned back
/// into names, as the destination reads them) and which controllers' state.
pub fn stream_of(src: &EffectiveCaps) -> (Vec<(String, u8)>, ControllerSections) {
    let subs = src.outgoing_subsections();
    let caps = caps_from_subsections(subs.iter().map(|s| (s.name.as_str(), s.value)))
        .expect("own subsections");
    let sections = ControllerSections {
        xics: src.is_on(CapId::Xics),
        xive: src.is_on(CapId::Xive),
    };
    (caps, sections)
}

/// Migrates caps `src` (resolved with `cpu`) to `dst`.
pub fn migrate(src: &EffectiveCaps, dst: &EffectiveCaps) -> Result<Accepted, Refused> {
    let (caps, controllers) = stream_of(src);
    let cpu = src.context().cpu.clone();
    check_incoming(
        &IncomingCaps {
            machine: src.machine(),
            cpu: &cpu,
            caps: &caps,
            controllers,
        },
        dst,
    )
}
