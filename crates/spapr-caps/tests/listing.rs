//! `-machine help`, `-machine TYPE,help` and `info capabilities`.

mod common;

use spapr_caps::*;

const QEMU_41_HELP: &str = include_str!("data/qemu-7.2-pseries-4.1-help.txt");
const QEMU_MACHINES: &str = include_str!("data/qemu-7.2-machine-help.txt");

#[test]
fn cap_lines_are_qemus_without_defaults() {
    let mt = machine_type("pseries-4.1").unwrap();
    let props = cap_properties(mt, &CapContext::machine_default(mt));
    let mut checked = 0;
    for p in props {
        let bare = PropertyHelp {
            default_json: None,
            ..p.clone()
        };
        if let Some(qemu) = QEMU_41_HELP
            .lines()
            .find(|l| l.starts_with(&format!("  {}=", p.name)))
        {
            assert_eq!(bare.line(), qemu);
            checked += 1;
        }
    }
    assert_eq!(checked, 12, "the twelve caps QEMU 7.2 has");
}

#[test]
fn listing_shows_defaults_for_the_version_and_cpu() {
    let mt = machine_type("pseries-4.1").unwrap();
    let text = format_property_help(mt, cap_properties(mt, &CapContext::machine_default(mt)));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "pseries-4.1-machine options:");
    assert!(lines[1..].windows(2).all(|w| w[0] <= w[1]), "sorted");
    for expected in [
        "  cap-cfpc=<string>      - Cache Flush on Privilege Change (broken, workaround, fixed) (default: \"workaround\")",
        "  cap-hpt-max-page-size=<int> - Maximum page size for Hash Page Table guests (default: 65536)",
        "  cap-fwnmi=<bool>       - Implements PAPR FWNMI option (default: false)",
        "  cap-xive=<bool>        - Allow XIVE interrupt controller (default: true)",
        "  ic-mode=<string>       - Specifies the interrupt controller mode (xics, xive, dual) (default: \"dual\")",
    ] {
        assert!(lines.contains(&expected), "missing {expected:?} in\n{text}");
    }
    // pseries-2.12: hpt computed (16 GiB under TCG), ic-mode legacy.
    let mt = machine_type("pseries-2.12").unwrap();
    let text = format_property_help(mt, cap_properties(mt, &CapContext::machine_default(mt)));
    assert!(text.contains("(default: 17179869184)"), "{text}");
    assert!(text.contains("(default: \"legacy\")"), "{text}");
    // The machine adds its own properties to the same listing.
    let mut props = cap_properties(mt, &CapContext::machine_default(mt));
    props.push(PropertyHelp {
        name: "vsmt".into(),
        type_name: "uint32".into(),
        description: Some("Virtual SMT: KVM behaves as if this were the host's SMT mode".into()),
        default_json: Some(mt.vsmt.value(1).to_string()),
    });
    let text = format_property_help(mt, props);
    assert!(text.ends_with(
        "  vsmt=<uint32>          - Virtual SMT: KVM behaves as if this were the host's SMT mode (default: 8)\n"
    ));
}

#[test]
fn machine_list_has_qemus_lines_for_every_version_qemu_had() {
    let ours = machine_list_help();
    let mut checked = 0;
    for line in QEMU_MACHINES.lines().filter(|l| l.starts_with("pseries-")) {
        // QEMU 7.2's default is 7.2; ours is 11.0.
        let line = line.trim_end_matches(" (default)");
        assert!(ours.lines().any(|l| l == line), "{line}");
        checked += 1;
    }
    assert_eq!(checked, 27);
}

#[test]
fn info_capabilities_says_where_values_come_from() {
    let eff = common::eff(
        "pseries-7.2,ic-mode=xics,cap-cfpc=broken",
        &CpuInfo::power8(),
    );
    assert_eq!(eff.origin(CapId::Cfpc), Origin::CommandLine);
    assert_eq!(eff.origin(CapId::Xics), Origin::IcMode);
    assert_eq!(eff.origin(CapId::Xive), Origin::IcMode);
    assert_eq!(eff.origin(CapId::LargeDecr), Origin::CpuAdjusted);
    assert_eq!(eff.origin(CapId::Htm), Origin::Default);
    let text = eff.info_text();
    assert!(
        text.starts_with(
            "machine pseries-7.2 (ic-mode xics), cpu power8_v2.0 (ISA 2.07), accel tcg\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("cap-cfpc=broken (command line, default workaround)\n"),
        "{text}"
    );
    assert!(
        text.contains("cap-large-decr=off (cpu-adjusted)\n"),
        "{text}"
    );
    assert!(text.contains("cap-xive=off (ic-mode)\n"), "{text}");
    let old = common::eff("pseries-2.12", &CpuInfo::power8());
    assert_eq!(old.origin(CapId::HptMaxPageSize), Origin::Computed);
    assert_eq!(old.get(CapId::HptMaxPageSize), 34);
    let kvm = KvmCaps {
        hpt_needs_host_contiguous_pages: true,
        min_ram_page_shift: 16,
        ..KvmCaps::default()
    };
    let mt = machine_type("pseries-2.12").unwrap();
    assert_eq!(
        default_caps_with_cpu(mt, &CpuInfo::power8(), &Accel::Kvm(kvm))[CapId::HptMaxPageSize],
        16
    );
}

#[test]
fn needed_subsections_follow_qemus_rule() {
    let cpu = CpuInfo::power9();
    // Set on the command line to the default: not sent.
    assert!(common::eff("pseries-7.2,cap-cfpc=workaround", &cpu)
        .outgoing_subsections()
        .is_empty());
    // Not set, default: not sent.
    assert!(common::eff("pseries-7.2", &cpu)
        .outgoing_subsections()
        .is_empty());
    // Set and different: sent with the effective value.
    let subs = common::eff(
        "pseries-7.2,cap-cfpc=broken,cap-hpt-max-page-size=16M",
        &cpu,
    )
    .outgoing_subsections();
    let got: Vec<(&str, u8)> = subs.iter().map(|s| (s.name.as_str(), s.value)).collect();
    assert_eq!(
        got,
        [("spapr/cap/cfpc", 0), ("spapr/cap/hpt_maxpagesize", 24)]
    );
    // Version-independent for QEMU's caps, pseries-4.0 included (no
    // pre_4_1_migration quirk).
    let subs = common::eff("pseries-4.0,cap-hpt-max-page-size=16M", &cpu).outgoing_subsections();
    assert_eq!(subs.len(), 1);
    // A cmd-line value the CPU adjustment makes equal to the default (dual
    // on POWER8 -> xics) is not sent.
    assert!(common::eff("pseries-7.2,ic-mode=dual", &CpuInfo::power8())
        .outgoing_subsections()
        .is_empty());
}
