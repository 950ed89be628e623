//! The command lines of `tests/data/qemu-7.2-errors.tsv` (QEMU 7.2's exit
//! status and stderr for bad or edge-case `-machine` options): the same
//! lines, warnings included, in the same order, and the same status.
//!
//! The file holds the rows whose outcome depends on the capabilities; rows
//! about devices, `-smp` topology, `-accel` and `resize-hpt` belong to the
//! machine and are not in it, and row 24 (`cap-xive=on` unknown to QEMU)
//! differs on purpose: this crate has cap-xive.

mod common;

const TSV: &str = include_str!("data/qemu-7.2-errors.tsv");

/// Machine properties that are not the capabilities' (ignored here).
const MACHINE_PROPS: &[&str] = &["kernel-irqchip", "kvm-type", "vsmt"];

#[test]
fn every_caps_row_matches_qemu() {
    let mut rows = 0;
    for line in TSV.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let (id, case, cmd, status) = (cols[0], cols[1], cols[2], cols[3]);
        let expected: Vec<String> = cols[4..]
            .iter()
            .filter(|l| !l.contains("info: dtb dumped"))
            .map(|l| l.to_string())
            .collect();
        let mut words = cmd.split_whitespace();
        assert_eq!(words.next(), Some("-machine"));
        let opts = words.next().unwrap_or("");
        let extra: Vec<&str> = words.collect();
        let got = common::run(opts, &extra, MACHINE_PROPS);
        assert_eq!(got.lines, expected, "row {id} ({case})");
        assert_eq!(got.status.to_string(), status, "row {id} ({case})");
        rows += 1;
    }
    assert_eq!(rows, 50);
}

#[test]
fn messages_qemu_7_2_cannot_show() {
    let r = |opts: &str, extra: &[&str]| common::run(opts, extra, &[]).lines;
    // The ic-mode alias against explicit caps.
    assert_eq!(
        r("pseries-7.2,ic-mode=xics,cap-xive=on", &[]),
        ["qemu-system-ppc64: ic-mode=xics conflicts with cap-xive=on"]
    );
    assert_eq!(
        r("pseries-7.2,ic-mode=dual,cap-xics=off", &[]),
        ["qemu-system-ppc64: ic-mode=dual conflicts with cap-xics=off"]
    );
    assert_eq!(
        r("pseries-7.2,cap-xics=off,cap-xive=off", &[]),
        ["qemu-system-ppc64: No interrupt controllers enabled, try cap-xics=on or cap-xive=on"]
    );
    assert_eq!(
        r("pseries-7.2,cap-xics=off,cap-xive=on", &["-cpu", "POWER8"]),
        ["qemu-system-ppc64: XIVE-only machines require a POWER9 CPU"]
    );
    assert_eq!(
        r("pseries-3.0,cap-xics=off", &[]),
        ["qemu-system-ppc64: This machine version requires XICS support"]
    );
    assert_eq!(
        r("pseries-2.12,cap-xive=on", &["-cpu", "POWER9"]),
        ["qemu-system-ppc64: This machine version cannot support XIVE"]
    );
    // Explicit dual (by caps) on POWER8 falls back to XICS like ic-mode=dual.
    let eff = common::eff(
        "pseries-7.2,cap-xics=on,cap-xive=on",
        &spapr_caps::CpuInfo::power8(),
    );
    assert_eq!(eff.ic_mode().as_str(), "xics");
    assert_eq!(
        eff.origin(spapr_caps::CapId::Xive),
        spapr_caps::Origin::CpuAdjusted
    );
}
