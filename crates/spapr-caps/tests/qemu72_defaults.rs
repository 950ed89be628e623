//! Every machine version x CPU that QEMU 7.2 has: our defaults must be what
//! it reported (`tests/data/qemu-7.2-caps-defaults.json`, qom-get after init
//! under TCG), and a start must fail exactly where and how QEMU's did.

mod common;

use serde_json::Value;
use spapr_caps::value::qom_json;
use spapr_caps::*;

const FIXTURE: &str = include_str!("data/qemu-7.2-caps-defaults.json");

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).expect("fixture is JSON")
}

fn family(cpu_type: &str) -> &str {
    cpu_type.split('_').next().unwrap()
}

/// The fixture's value of a cap as JSON text comparable with `qom_json`.
/// `"on"` (a string) marks a cell QEMU could only read by retrying with
/// cap-htm=off because TCG refused cap-htm=on: the value was on.
fn fixture_value(v: &Value) -> String {
    match v {
        Value::String(s) if s == "on" => "true".into(),
        other => other.to_string(),
    }
}

#[test]
fn every_qemu_7_2_version_and_cpu_has_qemus_defaults() {
    let f = fixture();
    let machines = f["machines"].as_object().unwrap();
    assert_eq!(machines.len(), 27, "2.1 .. 7.2 and 2.12-sxxm");
    let mut cells = 0;
    for (name, per_cpu) in machines {
        let mt = machine_type(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Default CPU: same family (QEMU 7.2 used power9_v2.0 where QEMU
        // 8.1+ and this crate use power9_v2.2; the revision change was not
        // versioned upstream).
        let qemu_default = per_cpu["default_cpu_type"].as_str().unwrap();
        assert_eq!(
            family(mt.default_cpu),
            family(qemu_default),
            "{name} default CPU"
        );
        for (cpu_name, cell) in per_cpu.as_object().unwrap() {
            let Some(cell) = cell.as_object() else {
                continue;
            };
            let cpu = match cpu_name.as_str() {
                "default" => common::default_cpu(mt),
                other => common::cpu_named(other),
            };
            assert_eq!(
                family(&cpu.model),
                family(cell["cpu_type"].as_str().unwrap())
            );
            let ctx = CapContext::tcg(cpu.clone());
            let defaults = default_caps_with_cpu(mt, &cpu, &Accel::Tcg);
            let mut checked = 0;
            for (prop, v) in cell {
                let Some(cap) = CapId::from_property(prop) else {
                    continue;
                };
                assert_eq!(
                    qom_json(cap, defaults[cap]).unwrap(),
                    fixture_value(v),
                    "{name} {cpu_name} {prop}"
                );
                checked += 1;
            }
            assert_eq!(checked, 12, "QEMU 7.2 has 12 caps");

            let eff = resolve(mt, &ctx, &CapSettings::new(mt)).unwrap();
            assert_eq!(
                eff.values(),
                defaults,
                "no command line: effective = defaults"
            );
            assert_eq!(
                eff.ic_mode().as_str(),
                cell["ic-mode"],
                "{name} {cpu_name} ic-mode"
            );
            assert_eq!(
                u64::from(mt.vsmt.value(1)),
                cell["vsmt"].as_u64().unwrap(),
                "{name} vsmt"
            );
            assert_eq!(
                mt.flags.resize_hpt_default.as_str(),
                cell["resize-hpt"],
                "{name}"
            );
            assert_eq!(
                Value::Bool(mt.flags.modern_hotplug_events),
                cell["modern-hotplug-events"],
                "{name}"
            );
            assert_eq!(
                mt.flags.nvdimm_supported,
                !cell["nvdimm"].is_null(),
                "{name} nvdimm"
            );

            // Starting under TCG fails exactly when QEMU's did, with its words.
            let outcome = eff.apply_checks();
            match cell["start_error"].as_str() {
                None => assert!(outcome.is_ok(), "{name} {cpu_name}: {outcome:?}"),
                Some(expected) => {
                    let f = outcome.expect_err(expected);
                    let got = format!(
                        "qemu-system-ppc64: {}\n{}",
                        f.error,
                        f.error.hint().unwrap()
                    );
                    assert_eq!(got, expected, "{name} {cpu_name}");
                }
            }
            cells += 1;
        }
    }
    assert_eq!(cells, 27 * 4);
}

#[test]
fn versions_after_7_2_keep_the_7_2_defaults_except_the_default_cpu() {
    let v72 = machine_type("pseries-7.2").unwrap();
    for mt in machine_types().iter().filter(|m| m.version > v72.version) {
        for cpu in [CpuInfo::power8(), CpuInfo::power9(), CpuInfo::power10()] {
            assert_eq!(
                default_caps_with_cpu(mt, &cpu, &Accel::Tcg),
                default_caps_with_cpu(v72, &cpu, &Accel::Tcg),
                "{}",
                mt.name
            );
        }
        let p10 = mt.version >= MachineVersion::new(9, 0);
        assert_eq!(
            mt.default_cpu,
            if p10 { "power10_v2.0" } else { "power9_v2.2" },
            "{}",
            mt.name
        );
    }
}

#[test]
fn caps_qemu_7_2_lacks_follow_the_cpu() {
    // ail-mode-3 (8.1), nested-papr (9.0), dawr1 (10.0), xics/xive.
    let mt = machine_type("pseries-11.0").unwrap();
    let d = |cpu: &CpuInfo| default_caps_with_cpu(mt, cpu, &Accel::Tcg);
    assert_eq!(d(&CpuInfo::power10())[CapId::Dawr1], 1);
    assert_eq!(d(&CpuInfo::power9())[CapId::Dawr1], 0);
    assert_eq!(d(&CpuInfo::power8())[CapId::AilMode3], 1);
    assert_eq!(d(&CpuInfo::power7())[CapId::AilMode3], 0);
    assert_eq!(d(&CpuInfo::power10())[CapId::NestedPapr], 0);
    assert_eq!(
        (
            d(&CpuInfo::power9())[CapId::Xics],
            d(&CpuInfo::power9())[CapId::Xive]
        ),
        (1, 1)
    );
    assert_eq!(
        (
            d(&CpuInfo::power8())[CapId::Xics],
            d(&CpuInfo::power8())[CapId::Xive]
        ),
        (1, 0)
    );
    let p9_compat8 = CpuInfo::power9()
        .with_max_compat(Some(IsaLevel::V2_07))
        .unwrap();
    assert_eq!(d(&p9_compat8)[CapId::Xive], 0);
}
