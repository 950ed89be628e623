//! Every refusal, with its message, and the destination left untouched.

mod common;

use std::sync::Arc;

use common::*;
use migration::{
    BulkDecl, CheckStage, IncomingView, Loader, Migratable, MigrationError, SectionState,
    StreamError, StreamHeader, StreamWriter,
};

fn load(dst: &Setup, stream: &[u8]) -> Result<migration::LoadReport, MigrationError> {
    let mut loader = Loader::new();
    loader.components(dst.components());
    loader.load_slice(stream)
}

/// A stream of `src`'s machine with one section replaced by `name`
/// instance `instance` version `version` carrying `state`.
fn with_section(
    src: &Setup,
    name: &str,
    instance: u32,
    version: u32,
    state: &SectionState,
) -> Vec<u8> {
    let mut w = StreamWriter::new(Vec::new(), &src.header()).unwrap();
    for c in src.components() {
        if c.name() == name && c.instance_id() == instance {
            w.write_section(name, instance, version, state).unwrap();
        } else {
            w.save(c.as_ref()).unwrap();
        }
    }
    w.finish().unwrap()
}

#[test]
fn too_new_and_too_old_versions_are_refused_with_qemus_words() {
    let src = Setup::new("xics", 1, 8);
    let state = src.ics.as_ref().unwrap().save().unwrap();
    let dst = Setup::new("xics", 1, 8);
    let e = load(&dst, &with_section(&src, "ics", 0, 3, &state)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "error while loading state for instance 0x0 of device 'ics': ics: incoming version_id 3 is \
         too new for local version_id 2"
    );
    assert!(matches!(
        e.root(),
        MigrationError::TooNew {
            incoming: 3,
            local: 2,
            ..
        }
    ));
    let state = src.machine.save().unwrap();
    let e = load(&dst, &with_section(&src, "spapr", 0, 0, &state)).unwrap_err();
    assert_eq!(
        e.root().to_string(),
        "spapr: incoming version_id 0 is too old for local minimum version_id 1"
    );
}

#[test]
fn unknown_section_is_named_with_qemus_advice() {
    // dual -> xics: the stream's XIVE sections have no home.
    let src = Setup::new("dual", 2, 8);
    let dst = Setup::new("xics", 2, 8);
    let e = load(&dst, &src.snapshot()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Unknown section or instance 'xive-source' 0. Make sure that your current VM setup \
         matches your saved VM setup, including any hotplugged devices"
    );
    // xics -> xive: the first unknown section is 'ics', as in QEMU 7.2.
    let e = load(
        &Setup::new("xive", 2, 8),
        &Setup::new("xics", 2, 8).snapshot(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Unknown section or instance 'ics' 0."),
        "{e}"
    );
    // More vCPUs on the source than on the destination.
    let e = load(
        &Setup::new("xics", 2, 8),
        &Setup::new("xics", 3, 8).snapshot(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Unknown section or instance 'icp/server' 2."),
        "{e}"
    );
}

#[test]
fn missing_section_is_refused_unless_the_reset_state_stands_in() {
    // xive -> dual: the dual destination's XICS parts have no reset-state
    // allowance in this setup, so they are reported missing.
    let e = load(
        &Setup::new("dual", 1, 8),
        &Setup::new("xive", 1, 8).snapshot(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("section 'ics' instance 0 is missing from the incoming stream"),
        "{e}"
    );
    // A machine section is never optional.
    let src = Setup::new("xics", 1, 8);
    let comps: Vec<Arc<dyn Migratable>> = src
        .components()
        .into_iter()
        .filter(|c| c.name() != "spapr")
        .collect();
    let stream = migration::save_to_vec(&src.header(), &comps).unwrap();
    let e = load(&Setup::new("xics", 1, 8), &stream).unwrap_err();
    assert!(
        matches!(e, MigrationError::MissingSection { ref name, instance: 0 } if name == "spapr"),
        "{e}"
    );
}

#[test]
fn unknown_subsection_and_subsection_versions_are_refused() {
    let src = Setup::new("xics", 1, 8);
    let mut state = src.machine.save().unwrap();
    state
        .push_subsection("spapr/cap/nested_papr", 1, &1u8)
        .unwrap();
    let e = load(
        &Setup::new("xics", 1, 8),
        &with_section(&src, "spapr", 0, 3, &state),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "error while loading state for instance 0x0 of device 'spapr': VM subsection \
         'spapr/cap/nested_papr' in 'spapr' does not exist"
    );
    let mut state = src.machine.save().unwrap();
    state.push_subsection("spapr/cap/htm", 2, &1u8).unwrap();
    let e = load(
        &Setup::new("xics", 1, 8),
        &with_section(&src, "spapr", 0, 3, &state),
    )
    .unwrap_err();
    assert_eq!(
        e.root().to_string(),
        "spapr/cap/htm: incoming version_id 2 is too new for local version_id 1"
    );
    // A typed component without declared subsections refuses any.
    let mut state = src.icps[0].save().unwrap();
    state.push_subsection("icp/server/extra", 1, &0u8).unwrap();
    let e = load(
        &Setup::new("xics", 1, 8),
        &with_section(&src, "icp/server", 0, 1, &state),
    )
    .unwrap_err();
    assert!(
        matches!(e.root(), MigrationError::UnknownSubsection { .. }),
        "{e}"
    );
}

#[test]
fn component_validation_refuses_with_its_own_words() {
    let src = Setup::new("xics", 2, 8);
    src.scramble(1);
    // Server 5 does not exist on a 2-vCPU destination.
    src.ics.as_ref().unwrap().state.lock().unwrap().irqs[3].server = 5;
    let e = load(&Setup::new("xics", 2, 8), &src.snapshot()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "error while loading state for instance 0x0 of device 'ics': ics: source 3 targets server 5 of 2"
    );
    // A source with more interrupts: QEMU's EQUAL field words.
    let e = load(
        &Setup::new("xics", 2, 16),
        &Setup::new("xics", 2, 8).snapshot(),
    )
    .unwrap_err();
    assert_eq!(e.root().to_string(), "ics: 8 != 10");
    // Fields that do not decode into the component's type.
    let bogus = SectionState::encode("icp/server", &vec!["not", "an", "icp"]).unwrap();
    let clean = Setup::new("xics", 2, 8);
    let e = load(
        &Setup::new("xics", 2, 8),
        &with_section(&clean, "icp/server", 1, 1, &bogus),
    )
    .unwrap_err();
    assert!(matches!(e.root(), MigrationError::Decode { .. }), "{e}");
    assert!(e.to_string().starts_with("error while loading state for instance 0x1 of device 'icp/server': icp/server: cannot decode state"), "{e}");
}

#[test]
fn duplicate_sections_are_refused() {
    let src = Setup::new("xics", 1, 8);
    let mut w = StreamWriter::new(Vec::new(), &src.header()).unwrap();
    for c in src.components() {
        w.save(c.as_ref()).unwrap();
    }
    // The writer itself refuses to write a section twice.
    assert!(w.save(src.machine.as_ref()).is_err());
    let mut comps = src.components();
    comps.push(Arc::new(Icp::new(0)));
    let mut loader = Loader::new();
    loader.components(comps);
    let e = loader.load_slice(&src.snapshot()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "section 'icp/server' instance 0 appears twice among the destination's components"
    );
}

/// The machine type check QEMU runs first (its configuration section).
fn machine_type_check(
    local: &'static str,
) -> impl FnMut(&IncomingView<'_>, &mut Vec<String>) -> Result<(), MigrationError> {
    move |view, _| {
        if view.header.machine_type != local {
            return Err(MigrationError::incompatible(
                "machine-type",
                format!(
                    "Machine type received is '{}' and local is '{local}'",
                    view.header.machine_type
                ),
            ));
        }
        Ok(())
    }
}

/// A capability comparison in spapr-caps' manner: the stream's level
/// (the source's effective value from the header) against the
/// destination's; higher refuses, lower warns.
fn caps_check(
    local: Vec<(&'static str, u8)>,
) -> impl FnMut(&IncomingView<'_>, &mut Vec<String>) -> Result<(), MigrationError> {
    move |view, warnings| {
        for &(name, dst) in &local {
            let src = view.header.caps.get(name).copied().unwrap_or(0);
            if src > dst {
                return Err(MigrationError::InSection {
                    name: "spapr".into(),
                    instance: 0,
                    source: Box::new(MigrationError::incompatible(
                        "caps",
                        format!("cap-{name} higher level ({src}) in incoming stream than on destination ({dst})"),
                    )),
                });
            }
            if src < dst {
                warnings.push(format!(
                    "cap-{name} lower level ({src}) in incoming stream than on destination ({dst})"
                ));
            }
        }
        Ok(())
    }
}

#[test]
fn header_checks_run_before_sections_and_state_checks_after() {
    // Machine type differs and the ic-mode too: the machine type is named,
    // as QEMU does.
    let src = Setup::new("dual", 1, 8);
    let dst = Setup::new("xics", 1, 8);
    let mut loader = Loader::new();
    loader.components(dst.components()).check(
        "machine-type",
        CheckStage::Header,
        machine_type_check("pseries-4.2"),
    );
    let e = loader.load_slice(&src.snapshot()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Machine type received is 'pseries-7.2' and local is 'pseries-4.2'"
    );
    assert!(matches!(e, MigrationError::Incompatible { ref check, .. } if check == "machine-type"));

    // The state-stage check sees the parsed sections.
    let mut seen = Vec::new();
    let mut loader = Loader::new();
    loader
        .components(dst.components())
        .check("sections", CheckStage::State, |view, _| {
            seen.extend(view.sections.iter().map(|s| s.name.clone()));
            assert!(view.has_section("ics") && view.section("icp/server", 0).is_some());
            Ok(())
        });
    loader
        .load_slice(&Setup::new("xics", 1, 8).snapshot())
        .unwrap();
    drop(loader);
    assert_eq!(seen, ["ics", "icp/server", "spapr"]);
}

#[test]
fn caps_comparison_refuses_higher_and_warns_lower() {
    let src = Setup::new("xics", 1, 8);
    let dst = Setup::new("xics", 1, 8);
    let mut loader = Loader::new();
    loader.components(dst.components()).check(
        "caps",
        CheckStage::State,
        caps_check(vec![("cfpc", 0), ("htm", 0)]),
    );
    let e = loader.load_slice(&src.snapshot()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "error while loading state for instance 0x0 of device 'spapr': cap-cfpc higher level (1) in \
         incoming stream than on destination (0)"
    );
    let mut loader = Loader::new();
    loader.components(dst.components()).check(
        "caps",
        CheckStage::State,
        caps_check(vec![("cfpc", 2), ("large_decr", 1)]),
    );
    let report = loader.load_slice(&src.snapshot()).unwrap();
    assert_eq!(
        report.warnings,
        ["cap-cfpc lower level (1) in incoming stream than on destination (2)"]
    );
}

#[test]
fn cpu_model_check_sees_the_header() {
    let src = Setup::new("xics", 1, 8);
    let mut loader = Loader::new();
    loader
        .components(Setup::new("xics", 1, 8).components())
        .check("cpu", CheckStage::Header, |v, _| {
            if v.header.cpu_model != "POWER8" {
                return Err(MigrationError::incompatible(
                    "cpu",
                    format!("CPU model {} cannot run on POWER8", v.header.cpu_model),
                ));
            }
            Ok(())
        });
    assert_eq!(
        loader.load_slice(&src.snapshot()).unwrap_err().to_string(),
        "CPU model POWER9 cannot run on POWER8"
    );
}

#[test]
fn refused_loads_leave_the_destination_exactly_as_it_was() {
    let src = Setup::new("xics", 4, 32);
    src.scramble(11);
    let good = src.snapshot();

    let dst = Setup::new("xics", 4, 32);
    dst.scramble(99);
    let before = dst.snapshot();

    // 1. The last section fails its own check after every other section
    //    was prepared.
    let mut bad_machine = src.machine.save().unwrap();
    bad_machine.fields = rmp_serde::to_vec_named(&"garbage").unwrap();
    let late_failure = with_section(&src, "spapr", 0, 3, &bad_machine);
    // 2. A state check refuses.
    // 3. The checksum is wrong (last byte of the END record's crc).
    let mut corrupt = good.clone();
    let at = corrupt.len() - 5;
    corrupt[at] ^= 1;
    // 4. Truncated before END.
    let truncated = &good[..good.len() - 13];
    // 5. Trailing garbage after END.
    let mut trailing = good.clone();
    trailing.push(0);
    // 6. A section payload byte flipped (the END checksum catches it).
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;

    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("late section failure", late_failure, false),
        ("state check", good.clone(), true),
        ("checksum", corrupt, false),
        ("truncated", truncated.to_vec(), false),
        ("trailing", trailing, false),
        ("flipped", flipped, false),
    ];
    for (what, stream, refuse_by_check) in cases {
        let mut loader = Loader::new();
        loader.components(dst.components());
        if refuse_by_check {
            loader.check("caps", CheckStage::State, caps_check(vec![("cfpc", 0)]));
        }
        let e = loader.load_slice(&stream).unwrap_err();
        assert_eq!(dst.snapshot(), before, "{what}: destination changed ({e})");
        assert_eq!(*dst.machine.post_loads.lock().unwrap(), 0, "{what}");
    }
    // And the same destination then takes the good stream.
    load(&dst, &good).unwrap();
    assert_eq!(dst.snapshot(), good);
}

#[test]
fn stream_level_refusals_use_qemus_words() {
    let good = Setup::new("xics", 1, 8).snapshot();
    let dst = Setup::new("xics", 1, 8);
    let mut qevm = good.clone();
    qevm[..8].copy_from_slice(b"QEVM\0\0\0\x03");
    let e = load(&dst, &qevm).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Not a migration stream, magic: 'QEVM\\x00\\x00\\x00\\x03' != 'PSRS-MIG'"
    );
    let mut v2 = good.clone();
    v2[11] = 2;
    assert_eq!(
        load(&dst, &v2).unwrap_err().to_string(),
        "Unsupported migration stream version 1.2 (this build reads 1.0 to 1.0)"
    );
    v2[9] = 2;
    v2[11] = 0;
    assert!(matches!(
        load(&dst, &v2).unwrap_err(),
        MigrationError::Stream(StreamError::UnsupportedVersion { major: 2, .. })
    ));
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"xx");
    assert_eq!(
        load(&dst, &trailing).unwrap_err().to_string(),
        format!(
            "trailing data after the end of the migration stream at byte {}",
            good.len()
        )
    );
    let e = load(&dst, &good[..good.len() - 3]).unwrap_err();
    assert!(
        e.to_string().starts_with("migration stream truncated"),
        "{e}"
    );
}

#[test]
fn post_load_failure_uses_qemus_words() {
    let src = Setup::new("xics", 1, 8);
    let dst = Setup::new("xics", 1, 8);
    let failing = Arc::new(Machine {
        fail_post_load: true,
        ..Machine::new()
    });
    let mut comps = dst.components();
    *comps.last_mut().unwrap() = failing;
    let mut loader = Loader::new();
    loader.components(comps);
    assert_eq!(
        loader.load_slice(&src.snapshot()).unwrap_err().to_string(),
        "post load hook failed for: spapr, version_id: 3, minimum_version: 1: spapr: KVM refused the MMU configuration"
    );
}

#[test]
fn bulk_sections_must_match_the_destination_before_any_byte_is_written() {
    let src = Setup::new("xics", 1, 8);
    let make = |decls: &[BulkDecl]| {
        let mut w = StreamWriter::new(Vec::new(), &src.header()).unwrap();
        for c in src.components() {
            w.save(c.as_ref()).unwrap();
        }
        w.begin_bulk(decls).unwrap();
        for d in decls {
            w.bulk_data(&vec![0x5a; d.len as usize]).unwrap();
        }
        w.finish().unwrap()
    };
    let ram = |len, version_id| BulkDecl {
        name: "ram".into(),
        instance_id: 0,
        version_id,
        len,
    };
    let dst = Setup::new("xics", 1, 8);
    let before = dst.snapshot();
    let try_load = |stream: &[u8], sink_len: usize| {
        let mut sink = vec![0u8; sink_len];
        let mut loader = Loader::new();
        loader
            .components(dst.components())
            .bulk("ram", 0, 2, 2, &mut sink);
        let r = loader.load_slice(stream);
        drop(loader);
        (r, sink)
    };
    let (r, sink) = try_load(&make(&[ram(64, 2)]), 32);
    assert_eq!(
        r.unwrap_err().to_string(),
        "error while loading state for instance 0x0 of device 'ram': bulk section 'ram' instance 0: \
         the stream has 0x40 bytes, the destination 0x20"
    );
    assert!(sink.iter().all(|&b| b == 0));
    let (r, _) = try_load(&make(&[ram(64, 3)]), 64);
    assert_eq!(
        r.unwrap_err().root().to_string(),
        "ram: incoming version_id 3 is too new for local version_id 2"
    );
    let (r, _) = try_load(&make(&[ram(64, 1)]), 64);
    assert!(matches!(
        r.unwrap_err().root(),
        MigrationError::TooOld { .. }
    ));
    let (r, _) = try_load(&make(&[]), 64);
    assert!(r
        .unwrap_err()
        .to_string()
        .starts_with("section 'ram' instance 0 is missing"));
    let (r, _) = try_load(
        &make(&[
            ram(64, 2),
            BulkDecl {
                name: "vram".into(),
                instance_id: 0,
                version_id: 1,
                len: 8,
            },
        ]),
        64,
    );
    assert!(r
        .unwrap_err()
        .to_string()
        .starts_with("Unknown section or instance 'vram' 0."));
    let (r, sink) = try_load(&make(&[ram(64, 2)]), 64);
    r.unwrap();
    assert!(sink.iter().all(|&b| b == 0x5a));
    assert_eq!(dst.snapshot(), before);
}

#[test]
fn header_round_trip_keeps_every_field() {
    let mut h = StreamHeader::new("pseries-5.0", "5.0", "POWER9_v2.2", "dual");
    h.vcpus = 1024;
    h.caps.insert("hpt_maxpagesize".into(), 16);
    h.extra.insert("note".into(), "x".into());
    let stream = migration::save_to_vec(&h, &[]).unwrap();
    let r = migration::StreamReader::new(&stream[..], Default::default()).unwrap();
    assert_eq!(r.header(), &h);
}
