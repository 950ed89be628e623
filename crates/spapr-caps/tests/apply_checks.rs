//! Every apply-check failure and warning, with QEMU's text and hint, through
//! the same path the machine uses (settings -> resolve -> apply_checks),
//! under TCG and under KVM hosts lacking one thing or another.

use spapr_caps::*;

/// A KVM host that supports everything the POWER9/POWER10 caps need.
fn full_kvm() -> KvmCaps {
    KvmCaps {
        htm: true,
        safe_cache: 2,
        safe_bounds_check: 2,
        safe_indirect_branch: 4,
        nested_kvm_hv: true,
        large_decr_bits: 56,
        count_cache_flush_assist: true,
        fwnmi: true,
        mmu_radix: true,
        rpt_invalidate: true,
        ail_mode_3: true,
        dawr1: true,
        hpt_needs_host_contiguous_pages: false,
        min_ram_page_shift: 16,
    }
}

fn run(
    machine: &str,
    props: &[(&str, &str)],
    cpu: CpuInfo,
    accel: Accel,
    threads: u32,
) -> Result<Vec<String>, (Vec<String>, String, Option<String>)> {
    let mt = machine_type(machine).unwrap();
    let mut s = CapSettings::new(mt);
    for (k, v) in props {
        assert!(s.set(k, v).unwrap(), "{k}");
    }
    let ctx = CapContext {
        cpu,
        accel,
        smp_threads: threads,
    };
    let eff = resolve(mt, &ctx, &s).map_err(|e| (vec![], e.to_string(), e.hint()))?;
    match eff.apply_checks() {
        Ok(w) => Ok(w.iter().map(|w| w.to_string()).collect()),
        Err(f) => Err((
            f.warnings.iter().map(|w| w.to_string()).collect(),
            f.error.to_string(),
            f.error.hint(),
        )),
    }
}

fn fails(
    machine: &str,
    props: &[(&str, &str)],
    cpu: CpuInfo,
    accel: Accel,
    threads: u32,
) -> (String, Option<String>) {
    match run(machine, props, cpu, accel, threads) {
        Ok(w) => panic!("{machine} {props:?}: accepted with {w:?}"),
        Err((_, e, h)) => (e, h),
    }
}

/// `cap-X=value` pairs of a case.
type Props = Vec<(&'static str, &'static str)>;
/// A TCG case: machine, props, CPU, threads per core, message, hint.
type TcgCase = (
    &'static str,
    Props,
    CpuInfo,
    u32,
    &'static str,
    Option<String>,
);
/// A KVM case: props, CPU, accelerator, message, hint.
type KvmCase = (Props, CpuInfo, Accel, &'static str, Option<String>);

fn hint(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[test]
fn a_full_kvm_host_accepts_the_defaults_silently() {
    for (m, cpu) in [
        ("pseries-11.0", CpuInfo::power10()),
        ("pseries-8.2", CpuInfo::power9()),
        ("pseries-2.1", CpuInfo::power7()),
    ] {
        assert_eq!(
            run(m, &[], cpu, Accel::Kvm(full_kvm()), 1),
            Ok(vec![]),
            "{m}"
        );
    }
}

#[test]
fn tcg_failures() {
    let tcg = || Accel::Tcg;
    let p9 = CpuInfo::power9;
    let cases: Vec<TcgCase> = vec![
        (
            "pseries-7.2",
            vec![("cap-htm", "on")],
            p9(),
            1,
            "No Transactional Memory support in TCG",
            hint("Try appending -machine cap-htm=off"),
        ),
        (
            "pseries-7.2",
            vec![("cap-hpt-max-page-size", "2K")],
            p9(),
            1,
            "Require at least 4kiB hpt-max-page-size",
            None,
        ),
        (
            "pseries-7.2",
            vec![("cap-nested-hv", "on")],
            CpuInfo::power8(),
            1,
            "Nested-HV only supported on POWER9 and later",
            hint("Try appending -machine cap-nested-hv=off"),
        ),
        (
            "pseries-7.2",
            vec![("cap-nested-hv", "on")],
            p9(),
            2,
            "TCG does not support nested-HV with SMT",
            hint("Try appending -machine cap-nested-hv=off or use threads=1 with -smp"),
        ),
        (
            "pseries-7.2",
            vec![("cap-nested-hv", "on"), ("cap-nested-papr", "on")],
            p9(),
            1,
            "Nested-HV APIs are mutually exclusive",
            hint("Please use either cap-nested-hv or cap-nested-papr to proceed."),
        ),
        (
            "pseries-7.2",
            vec![("cap-nested-papr", "on")],
            CpuInfo::power8(),
            1,
            "Nested-PAPR only supported on POWER9 and later",
            hint("Try appending -machine cap-nested-papr=off"),
        ),
        (
            "pseries-7.2",
            vec![("cap-large-decr", "on")],
            CpuInfo::power8(),
            1,
            "Large decrementer only supported on POWER9",
            hint("Try -cpu POWER9"),
        ),
        (
            "pseries-7.2",
            vec![("cap-rpt-invalidate", "on")],
            p9(),
            1,
            "No H_RPT_INVALIDATE support in TCG",
            hint("Try appending -machine cap-rpt-invalidate=off"),
        ),
        (
            "pseries-7.2",
            vec![("cap-ail-mode-3", "on")],
            CpuInfo::power7(),
            1,
            "TCG only supports cap-ail-mode-3 on POWER8 and later CPUs",
            hint("Try appending -machine cap-ail-mode-3=off"),
        ),
        (
            "pseries-7.2",
            vec![("cap-dawr1", "on")],
            p9(),
            1,
            "DAWR1 supported only on POWER10 and later CPUs",
            hint("Try appending -machine cap-dawr1=off"),
        ),
        (
            "pseries-7.2",
            vec![("cap-vsx", "on")],
            CpuInfo::new("970_v2.2", IsaLevel::V2_05),
            1,
            "VSX support not available",
            hint("Try appending -machine cap-vsx=off"),
        ),
        (
            "pseries-7.2",
            vec![("cap-dfp", "on")],
            CpuInfo::new("970_v2.2", IsaLevel::V2_05),
            1,
            "DFP support not available",
            hint("Try appending -machine cap-dfp=off"),
        ),
    ];
    for (m, props, cpu, threads, msg, h) in cases {
        assert_eq!(
            fails(m, &props, cpu, tcg(), threads),
            (msg.to_string(), h),
            "{props:?}"
        );
    }
    // dawr1 also follows max-cpu-compat.
    let p10_as_p9 = CpuInfo::power10()
        .with_max_compat(Some(IsaLevel::V3_00))
        .unwrap();
    assert_eq!(
        fails("pseries-11.0", &[("cap-dawr1", "on")], p10_as_p9, tcg(), 1).0,
        "DAWR1 supported only on POWER10 and later CPUs"
    );
    // Nested-HV under TCG with one thread is fine (QEMU 7.2 row 17).
    assert!(run(
        "pseries-7.2",
        &[("cap-nested-hv", "on")],
        p9(),
        Accel::Tcg,
        1
    )
    .is_ok());
}

#[test]
fn tcg_warnings() {
    let w = run(
        "pseries-11.0",
        &[
            ("cap-cfpc", "fixed"),
            ("cap-ibs", "FIXED-NA"),
            ("cap-hpt-max-page-size", "4K"),
        ],
        CpuInfo::power10(),
        Accel::Tcg,
        1,
    )
    .unwrap();
    assert_eq!(
        w,
        [
            "TCG doesn't support requested feature, cap-cfpc=fixed",
            "TCG doesn't support requested feature, cap-sbbc=workaround",
            "TCG doesn't support requested feature, cap-ibs=fixed-na",
            "Many guests require at least 64kiB hpt-max-page-size",
            "TCG doesn't support requested feature, cap-ccf-assist=on",
        ]
    );
}

#[test]
fn kvm_failures() {
    let p9 = CpuInfo::power9;
    let with = |f: fn(&mut KvmCaps)| {
        let mut k = full_kvm();
        f(&mut k);
        Accel::Kvm(k)
    };
    let cases: Vec<KvmCase> = vec![
        (vec![("cap-htm", "on")], p9(), with(|k| k.htm = false), "KVM implementation does not support Transactional Memory", hint("Try appending -machine cap-htm=off")),
        (vec![], p9(), with(|k| k.safe_cache = 0), "Requested safe cache capability level not supported by KVM", hint("Try appending -machine cap-cfpc=broken")),
        (vec![("cap-sbbc", "fixed")], p9(), with(|k| k.safe_bounds_check = 1), "Requested safe bounds check capability level not supported by KVM", hint("Try appending -machine cap-sbbc=workaround")),
        (vec![("cap-ibs", "fixed-na")], p9(), with(|k| k.safe_indirect_branch = 3), "Requested safe indirect branch capability level not supported by KVM", hint("Try appending -machine cap-ibs=fixed-ccd")),
        (vec![("cap-hpt-max-page-size", "16M")], CpuInfo::power8(), with(|k| k.hpt_needs_host_contiguous_pages = true), "Can't support 16384 kiB guest pages with 64 kiB host pages with this KVM implementation", None),
        (vec![("cap-nested-hv", "on")], p9(), with(|k| k.nested_kvm_hv = false), "KVM implementation does not support Nested-HV", hint("Try appending -machine cap-nested-hv=off")),
        (vec![("cap-nested-hv", "on")], p9().with_max_compat(Some(IsaLevel::V2_07)).unwrap(), Accel::Kvm(full_kvm()), "Nested-HV only supported on POWER9 and later", hint("Try appending -machine max-cpu-compat=power9")),
        (vec![("cap-nested-papr", "on")], p9(), Accel::Kvm(full_kvm()), "KVM implementation does not support Nested-PAPR", hint("Try appending -machine cap-nested-papr=off")),
        (vec![], p9(), with(|k| k.large_decr_bits = 0), "No large decrementer support", hint("Try appending -machine cap-large-decr=off")),
        (vec![], p9(), with(|k| k.large_decr_bits = 64), "KVM large decrementer size (64) differs to model (56)", hint("Try appending -machine cap-large-decr=off")),
        (vec![], p9(), with(|k| k.count_cache_flush_assist = false), "Requested count cache flush assist capability level not supported by KVM", hint("Try appending -machine cap-ccf-assist=off")),
        (vec![], p9(), with(|k| k.fwnmi = false), "Firmware Assisted Non-Maskable Interrupts(FWNMI) not supported by KVM.", hint("Try appending -machine cap-fwnmi=off")),
        (vec![("cap-rpt-invalidate", "on")], p9(), with(|k| k.mmu_radix = false), "H_RPT_INVALIDATE only supported on Radix", None),
        (vec![("cap-rpt-invalidate", "on")], p9(), with(|k| k.rpt_invalidate = false), "KVM implementation does not support H_RPT_INVALIDATE", hint("Try appending -machine cap-rpt-invalidate=off")),
        (vec![], p9(), with(|k| k.ail_mode_3 = false), "KVM implementation does not support cap-ail-mode-3", hint("Try appending -machine cap-ail-mode-3=off")),
        (vec![], CpuInfo::power10(), with(|k| k.dawr1 = false), "DAWR1 not supported by KVM.", hint("Try appending -machine cap-dawr1=off")),
    ];
    for (props, cpu, accel, msg, h) in cases {
        let got = fails("pseries-11.0", &props, cpu, accel, 1);
        assert_eq!(got, (msg.to_string(), h), "{props:?}");
    }
    // Without the assist, ccf-assist is allowed when the host has the count
    // cache disabled (ibs fixed-ccd).
    let mut k = full_kvm();
    k.count_cache_flush_assist = false;
    k.safe_indirect_branch = 3;
    assert!(run("pseries-11.0", &[], CpuInfo::power9(), Accel::Kvm(k), 1).is_ok());
}

#[test]
fn each_check_failure_names_its_cap() {
    let f = CheckFailure::HptHostPages {
        guest_kib: 16384,
        host_kib: 64,
    };
    assert_eq!(f.cap(), CapId::HptMaxPageSize);
    assert_eq!(
        CapError::from(CheckFailure::XiveOnlyNeedsPower9).cap(),
        Some(CapId::Xive)
    );
    assert_eq!(
        CapError::from(CheckFailure::NoInterruptController).cap(),
        Some(CapId::Xics)
    );
}
