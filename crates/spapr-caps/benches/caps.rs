//! The capability comparison a destination makes before loading a stream
//! ([`check_incoming`]), as the machine calls it:
//!
//! - `none_carried`: a default `pseries` source that sent no capability
//!   subsection, both controllers' sections present (every level comes
//!   from the source version's defaults);
//! - `all_carried`: the same with every capability carried in the stream;
//! - `pseries41_xics`: the 2019 case, a pseries-4.1 `ic-mode=xics` source
//!   (which predates cap-xics/cap-xive) into the same destination.
//!
//! A counting allocator reports the allocations of 10 000 checks
//! (`PERF alloc ...`, read by `cargo xtask bench`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use spapr_caps::{
    caps_from_subsections, check_incoming, resolve, CapContext, CapId, CapSettings,
    ControllerSections, CpuInfo, EffectiveCaps, IncomingCaps, MachineOptions,
};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

/// Effective caps of `-machine <text>` with a POWER9 under TCG.
fn effective(text: &str, ctx: &CapContext) -> EffectiveCaps {
    let opts = MachineOptions::parse(text).expect("machine options");
    let machine = opts.machine_type().expect("machine type");
    let mut settings = CapSettings::new(machine);
    settings.apply_options(&opts).expect("cap options");
    resolve(machine, ctx, &settings).expect("resolve")
}

fn bench(c: &mut Criterion) {
    let ctx = CapContext::tcg(CpuInfo::power9());
    let both = ControllerSections {
        xics: true,
        xive: true,
    };
    let dst = effective("pseries", &ctx);
    let all: Vec<(String, u8)> = CapId::ALL
        .into_iter()
        .map(|c| (c.name().to_string(), dst.get(c)))
        .collect();
    let old = effective("pseries-4.1,ic-mode=xics", &ctx);
    let old_sent = old.outgoing_subsections();
    let old_caps =
        caps_from_subsections(old_sent.iter().map(|s| (s.name.as_str(), s.value))).unwrap();
    let cases: [(&str, IncomingCaps<'_>, &EffectiveCaps); 3] = [
        (
            "none_carried",
            IncomingCaps {
                machine: dst.machine(),
                cpu: &ctx.cpu,
                caps: &[],
                controllers: both,
            },
            &dst,
        ),
        (
            "all_carried",
            IncomingCaps {
                machine: dst.machine(),
                cpu: &ctx.cpu,
                caps: &all,
                controllers: both,
            },
            &dst,
        ),
        (
            "pseries41_xics",
            IncomingCaps {
                machine: old.machine(),
                cpu: &ctx.cpu,
                caps: &old_caps,
                controllers: ControllerSections {
                    xics: true,
                    xive: false,
                },
            },
            &old,
        ),
    ];
    let mut g = c.benchmark_group("caps");
    for (name, src, dst) in &cases {
        let verdict = check_incoming(src, dst).expect("accepted");
        assert!(
            verdict.warnings.is_empty(),
            "{name}: {:?}",
            verdict.warnings
        );
        let before = alloc_count::allocations();
        for _ in 0..10_000 {
            black_box(check_incoming(black_box(src), dst).is_ok());
        }
        let n = alloc_count::allocations() - before;
        println!("PERF alloc caps/check_incoming/{name} {n} per 10000");
        g.bench_function(format!("check_incoming/{name}"), |b| {
            b.iter(|| black_box(check_incoming(black_box(src), dst).is_ok()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
