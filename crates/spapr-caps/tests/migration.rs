//! The migration comparison: the 2019 case, the ic-mode table for every
//! version with both controllers, QEMU 7.2's observed caps rows, and what a
//! stream is judged by when it lacks a cap.

mod common;

use common::{eff, migrate, stream_of};
use serde_json::Value;
use spapr_caps::*;

const MATRIX: &str = include_str!("data/qemu-7.2-migration-matrix.json");

fn ic(opts: &str, mode: &str) -> String {
    format!("{opts},ic-mode={mode}")
}

/// Source CPU for a version: its default CPU, or POWER9 where that is
/// older (so that XIVE exists).
fn p9_or_newer(mt: &MachineType) -> CpuInfo {
    if mt.default_cpu_isa >= IsaLevel::V3_00 {
        common::default_cpu(mt)
    } else {
        CpuInfo::power9()
    }
}

#[test]
fn the_2019_case_pseries_4_1_same_ic_mode_is_accepted() {
    // QEMU 4.2-era proposal: a pseries-4.1 source never sends cap-xics /
    // cap-xive; judging it by the destination's defaults (both on) refused
    // "cap-xive higher level (1) in incoming stream than on destination (0)".
    let cpu = CpuInfo::power9();
    for mode in ["xics", "xive"] {
        let src = eff(&ic("pseries-4.1", mode), &cpu);
        let (caps, sections) = stream_of(&src);
        assert!(
            caps.is_empty(),
            "pseries-4.1 sends no interrupt-controller cap: {caps:?}"
        );
        let dst = eff(&ic("pseries-4.1", mode), &cpu);
        let ok = migrate(&src, &dst).unwrap_or_else(|r| panic!("ic-mode={mode}: {r}"));
        assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);
        assert_eq!(ok.basis[CapId::Xics.index()], Basis::ControllerSections);
        assert_eq!(ok.basis[CapId::Xive.index()], Basis::ControllerSections);
        assert_eq!(ok.source[CapId::Xics], u8::from(sections.xics));
        assert_eq!(ok.source[CapId::Xive], u8::from(sections.xive));
        // Same verdict when the stream (say, its header) lists every
        // effective cap of the source.
        let all: Vec<(String, u8)> = src
            .values()
            .iter()
            .map(|(c, v)| (c.name().to_string(), v))
            .collect();
        let full = check_incoming(
            &IncomingCaps {
                machine: src.machine(),
                cpu: &cpu,
                caps: &all,
                controllers: sections,
            },
            &dst,
        )
        .unwrap_or_else(|r| panic!("ic-mode={mode}, full caps: {r}"));
        assert_eq!(full.source, ok.source);
    }
}

#[test]
fn judging_by_destination_defaults_would_have_refused_it() {
    // The same pseries-4.1 xics stream, with its absent caps taken from the
    // destination's *defaults* (QEMU's rule), is the 2019 failure; our
    // judgement differs exactly there.
    let cpu = CpuInfo::power9();
    let dst = eff(&ic("pseries-4.1", "xics"), &cpu);
    let assumed = dst.defaults();
    assert!(assumed[CapId::Xive] > dst.get(CapId::Xive));
    let r = Refusal::HigherLevel {
        cap: CapId::Xive,
        incoming: assumed[CapId::Xive],
        local: dst.get(CapId::Xive),
    };
    assert_eq!(
        r.to_string(),
        "cap-xive higher level (1) in incoming stream than on destination (0)"
    );
}

#[test]
fn ic_mode_table_for_every_version_with_both_controllers() {
    // source \ dest | xics | xive | dual
    let table = [
        ("xics", [Ok(()), Err("xics"), Ok(())]),
        ("xive", [Err("xive"), Ok(()), Ok(())]),
        ("dual", [Err("xive"), Err("xics"), Ok(())]),
    ];
    let mut versions = 0;
    for mt in machine_types().iter().filter(|m| m.ic_mode_settable()) {
        versions += 1;
        let cpu = p9_or_newer(mt);
        for (src_mode, row) in &table {
            let src = eff(&ic(&mt.name, src_mode), &cpu);
            for (dst_mode, expect) in ["xics", "xive", "dual"].iter().zip(row) {
                let dst = eff(&ic(&mt.name, dst_mode), &cpu);
                let got = migrate(&src, &dst);
                match (expect, got) {
                    (Ok(()), Ok(a)) => {
                        // xics -> dual / xive -> dual: the missing controller
                        // starts from reset, and the machine is told.
                        let lower = a
                            .warnings
                            .iter()
                            .any(|w| matches!(w, MigrationWarning::ControllerFromReset(_)));
                        assert_eq!(
                            lower,
                            src_mode != dst_mode,
                            "{} {src_mode}->{dst_mode}",
                            mt.name
                        );
                    }
                    (Err(cap), Err(r)) => {
                        let (s, d) = (u8::from(src.is_on(CapId::from_name(cap).unwrap())), 0);
                        assert_eq!(
                            r.to_string(),
                            format!("cap-{cap} higher level ({s}) in incoming stream than on destination ({d})"),
                            "{} {src_mode}->{dst_mode}",
                            mt.name
                        );
                        assert_eq!(r.reasons.len(), 1);
                    }
                    (e, g) => panic!(
                        "{} {src_mode}->{dst_mode}: expected {e:?}, got {g:?}",
                        mt.name
                    ),
                }
            }
        }
    }
    assert_eq!(versions, 23, "3.1 .. 11.0");
}

#[test]
fn streams_before_4_2_never_carry_xics_or_xive() {
    let cpu = CpuInfo::power9();
    for mt in machine_types() {
        for opts in [
            mt.name.clone(),
            format!("{},ic-mode=xive", mt.name),
            format!("{},ic-mode=xics", mt.name),
        ] {
            let Ok(src) = common::try_eff(&opts, &cpu) else {
                continue;
            };
            let names: Vec<String> = src
                .outgoing_subsections()
                .into_iter()
                .map(|s| s.name)
                .collect();
            let sends_intc = names
                .iter()
                .any(|n| n == "spapr/cap/xics" || n == "spapr/cap/xive");
            if mt.version < MachineVersion::new(4, 2) {
                assert!(!sends_intc, "{opts}: {names:?}");
            }
        }
    }
    // From 4.2 a non-default mode is sent.
    let src = eff("pseries-4.2,ic-mode=xics", &cpu);
    let subs = src.outgoing_subsections();
    assert_eq!(subs.len(), 1);
    assert_eq!(
        (subs[0].name.as_str(), subs[0].value),
        ("spapr/cap/xive", 0)
    );
}

#[test]
fn a_stream_that_contradicts_its_own_sections_is_refused() {
    let cpu = CpuInfo::power9();
    let dst = eff("pseries-7.2", &cpu);
    let caps = vec![("xive".to_string(), 0u8)];
    let r = check_incoming(
        &IncomingCaps {
            machine: MachineVersion::new(7, 2),
            cpu: &cpu,
            caps: &caps,
            controllers: ControllerSections {
                xics: true,
                xive: true,
            },
        },
        &dst,
    )
    .unwrap_err();
    assert_eq!(
        r.to_string(),
        "cap-xive is 0 in incoming stream but the stream has XIVE state"
    );
    // A pseries-4.1 stream is judged by its sections; values it carries
    // anyway (a header listing every effective cap) must agree with them.
    let judge = |caps: Vec<(String, u8)>, xics, xive| {
        check_incoming(
            &IncomingCaps {
                machine: MachineVersion::new(4, 1),
                cpu: &cpu,
                caps: &caps,
                controllers: ControllerSections { xics, xive },
            },
            &dst,
        )
    };
    let a = judge(
        vec![("xics".to_string(), 1), ("xive".to_string(), 1)],
        true,
        true,
    )
    .unwrap();
    assert_eq!(a.basis[CapId::Xics.index()], Basis::ControllerSections);
    let r = judge(vec![("xics".to_string(), 0)], true, true).unwrap_err();
    assert_eq!(
        r.to_string(),
        "cap-xics is 0 in incoming stream but the stream has XICS state"
    );
    let r = judge(vec![], false, false).unwrap_err();
    assert_eq!(
        r.to_string(),
        "incoming stream carries no interrupt controller state"
    );
    // Garbage from the stream is refused, never a panic.
    for (caps, msg) in [
        (
            vec![("bogus".to_string(), 1u8)],
            "Unknown capability 'bogus' in incoming stream",
        ),
        (
            vec![("cfpc".to_string(), 3u8)],
            "Invalid value (3) for cap-cfpc",
        ),
        (
            vec![("htm".to_string(), 0), ("htm".to_string(), 0)],
            "cap-htm appears twice in incoming stream",
        ),
    ] {
        let r = check_incoming(
            &IncomingCaps {
                machine: MachineVersion::new(7, 2),
                cpu: &cpu,
                caps: &caps,
                controllers: ControllerSections {
                    xics: true,
                    xive: true,
                },
            },
            &dst,
        )
        .unwrap_err();
        assert_eq!(r.to_string(), msg);
    }
    assert!(caps_from_subsections([("spapr/cap/nope", 1)]).is_err());
}

#[test]
fn absent_caps_take_the_source_versions_default_with_the_source_cpu() {
    // A POWER8 pseries-7.2 source (xive off because of its CPU, large-decr
    // off) arriving at a POWER9 destination: judged by its own CPU, so only
    // lower levels (warnings), never a refusal from the destination's
    // defaults.
    let src = eff("pseries-7.2", &CpuInfo::power8());
    let dst = eff("pseries-7.2", &CpuInfo::power9());
    assert!(stream_of(&src).0.is_empty());
    let a = migrate(&src, &dst).unwrap();
    assert_eq!(a.source[CapId::Xive], 0);
    assert_eq!(a.source[CapId::LargeDecr], 0);
    assert!(a.warnings.contains(&MigrationWarning::LowerLevel {
        cap: CapId::LargeDecr,
        incoming: 0,
        local: 1
    }));
    // The other way round the POWER9 source had XIVE and large-decr: refused.
    let r = migrate(&dst, &src).unwrap_err();
    let text = r.to_string();
    assert!(
        text.contains("cap-large-decr higher level (1) in incoming stream than on destination (0)"),
        "{text}"
    );
    assert!(
        text.contains("cap-xive higher level (1) in incoming stream than on destination (0)"),
        "{text}"
    );
}

/// The machine of a row; the fixture's `pseries` is QEMU 7.2's alias,
/// pseries-7.2 (ours names pseries-11.0).
fn machine_of(side: &Value) -> &str {
    match side["machine"].as_str().unwrap() {
        "pseries" => "pseries-7.2",
        m => m,
    }
}

fn opts_of(side: &Value) -> String {
    let mut s = machine_of(side).to_string();
    if side["ic"] != "default" {
        s += &format!(",ic-mode={}", side["ic"].as_str().unwrap());
    }
    for (k, v) in side["caps"].as_object().unwrap() {
        s += &format!(",{k}={}", v.as_str().unwrap());
    }
    s
}

fn cpu_of(side: &Value) -> CpuInfo {
    let extra: Vec<&str> = side["extra"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    match extra.as_slice() {
        [] => {
            let mt = machine_type(machine_of(side)).unwrap();
            common::default_cpu(mt)
        }
        ["-cpu", name] => common::cpu_named(name),
        other => panic!("{other:?}"),
    }
}

#[test]
fn qemu_7_2_migration_rows_about_caps_ic_mode_and_machine_type() {
    let m: Value = serde_json::from_str(MATRIX).unwrap();
    let mut checked = 0;
    for row in m["rows"].as_array().unwrap() {
        let group = row["group"].as_str().unwrap();
        let (src_side, dst_side) = (&row["src"], &row["dst"]);
        let ok = row["result"] == "ok";
        let error = row["error"].as_str().unwrap();
        let (src_cpu, dst_cpu) = (cpu_of(src_side), cpu_of(dst_side));
        if group.starts_with('E') || (group.starts_with('F') && src_cpu.isa < dst_cpu.isa) {
            // vCPU count, and a CPU *upgrade* (refused by QEMU's cpu
            // section): the machine's checks, not the capabilities'.
            continue;
        }
        let src = eff(&opts_of(src_side), &src_cpu);
        let dst_opts = opts_of(dst_side);
        let dst_mt = MachineOptions::parse(&dst_opts)
            .unwrap()
            .machine_type()
            .unwrap();
        let dst = eff(&dst_opts, &dst_cpu);
        let machine_ok = check_machine_type(&src.machine().to_string(), dst_mt);
        if group.starts_with('C') {
            match machine_ok {
                Ok(()) => assert!(ok, "{row}"),
                Err(e) => {
                    assert!(!ok);
                    assert_eq!(e.to_string(), error);
                }
            }
            checked += 1;
            continue;
        }
        machine_ok.unwrap();
        match migrate(&src, &dst) {
            Ok(a) => {
                assert!(ok, "{row}: accepted, QEMU refused: {error}");
                if group.starts_with('D') {
                    // QEMU printed "warning: <text>" for lower levels.
                    let lower: Vec<String> = a
                        .warnings
                        .iter()
                        .filter(|w| matches!(w, MigrationWarning::LowerLevel { .. }))
                        .map(|w| format!("warning: {w}"))
                        .collect();
                    let expected: Vec<&str> = if error.is_empty() {
                        vec![]
                    } else {
                        vec![error]
                    };
                    assert_eq!(lower, expected, "{row}");
                }
            }
            Err(r) => {
                assert!(!ok, "{row}: refused ({r}), QEMU accepted");
                if group.starts_with('D') {
                    let first = error.split(" / ").next().unwrap();
                    assert_eq!(r.to_string(), first, "{row}");
                } else {
                    // QEMU names the first unknown section: 'ics' (XICS) or
                    // 'xive-source' (XIVE); we name the cap that says so
                    // (among others: POWER9 -> POWER8 also lowers large-decr).
                    let cap = if error.contains("'ics'") {
                        CapId::Xics
                    } else {
                        CapId::Xive
                    };
                    assert!(
                        r.reasons.iter().any(|x| matches!(x, Refusal::HigherLevel { cap: c, incoming: 1, local: 0 } if *c == cap)),
                        "{row}: {r}"
                    );
                }
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 27 + 16 + 10 + 21 + 3);
    assert_eq!(
        check_machine_type("pseries", machine_type("pseries-11.0").unwrap()),
        Ok(())
    );
    assert_eq!(
        check_machine_type("pseries-11.0", machine_type("pseries").unwrap()),
        Ok(())
    );
}
