//! Round trips: nested, optional and versioned state, subsections, bulk data.

mod common;

use std::sync::Arc;

use common::*;
use migration::{
    BulkDecl, Limits, Loader, Migratable, MigrationError, SectionState, StreamHeader, StreamReader,
    StreamWriter,
};

fn load_into(dst: &Setup, stream: &[u8]) -> Result<migration::LoadReport, MigrationError> {
    let mut loader = Loader::new();
    loader.components(dst.components());
    loader.load_slice(stream)
}

#[test]
fn whole_machine_round_trips_with_nested_and_optional_state() {
    for mode in ["xics", "xive", "dual"] {
        let src = Setup::new(mode, 4, 64);
        src.scramble(7);
        let stream = src.snapshot();
        let dst = Setup::new(mode, 4, 64);
        assert_ne!(
            dst.snapshot(),
            stream,
            "{mode}: destination starts different"
        );
        let report = load_into(&dst, &stream).unwrap();
        assert_eq!(dst.snapshot(), stream, "{mode}");
        assert_eq!(report.header, src.header());
        assert_eq!(report.loaded.len(), src.components().len());
        assert!(report.reset.is_empty());
        assert_eq!(report.stream_len, stream.len() as u64);
        assert_eq!(*dst.machine.post_loads.lock().unwrap(), 1);
        let m = dst.machine.state.lock().unwrap();
        assert_eq!(m.fields.patb_entry, Some(0xdead_0007));
        assert_eq!(m.fields.tb.time_of_the_day_ns, -42);
    }
}

#[test]
fn optional_field_absent_in_stream_loads_as_none() {
    let src = Setup::new("xics", 1, 8);
    src.scramble(1);
    src.machine.state.lock().unwrap().fields.patb_entry = None;
    let stream = src.snapshot();
    let dst = Setup::new("xics", 1, 8);
    dst.machine.state.lock().unwrap().fields.patb_entry = Some(99);
    load_into(&dst, &stream).unwrap();
    assert_eq!(dst.machine.state.lock().unwrap().fields.patb_entry, None);
}

#[test]
fn subsection_is_sent_only_when_needed_and_absence_keeps_default() {
    let src = Setup::new("xics", 1, 8);
    let section = src.machine.save().unwrap();
    assert!(
        section.subsections.is_empty(),
        "no cap changed, nothing sent"
    );
    src.machine
        .state
        .lock()
        .unwrap()
        .caps
        .insert("htm".into(), 1);
    let section = src.machine.save().unwrap();
    assert_eq!(section.subsections.len(), 1);
    assert_eq!(section.subsections[0].name, "spapr/cap/htm");

    let dst = Setup::new("xics", 1, 8);
    load_into(&dst, &src.snapshot()).unwrap();
    let caps = dst.machine.state.lock().unwrap().caps.clone();
    assert_eq!(
        caps.into_iter().collect::<Vec<_>>(),
        vec![("htm".to_owned(), 1)]
    );
}

#[test]
fn version_1_stream_without_new_field_loads_into_version_2() {
    let old = Setup::new("xics", 2, 16);
    old.scramble(3);
    let old_ics = Arc::new(Ics::new(16, 2));
    old_ics.scramble(3);
    // Play a version 1 source: no `flags` field anywhere.
    let v1 = Ics {
        state: std::sync::Mutex::new(old_ics.state.lock().unwrap().clone()),
        nr_servers: 2,
        version: 1,
    };
    let section = Migratable::save(&v1).unwrap();
    let as_json: serde_json::Value = rmp_serde::from_slice(&section.fields).unwrap();
    assert!(as_json["irqs"][0].get("flags").is_none(), "v1 has no flags");
    let mut comps = old.components();
    comps[0] = Arc::new(v1);
    let stream = migration::save_to_vec(&old.header(), &comps).unwrap();

    let dst = Setup::new("xics", 2, 16);
    let report = load_into(&dst, &stream).unwrap();
    assert!(report.loaded.contains(&("ics".to_owned(), 0, 1)));
    let got = dst.ics.as_ref().unwrap().state.lock().unwrap().clone();
    assert!(
        got.irqs.iter().all(|i| i.flags == Some(0)),
        "absent flags judged by v1's meaning"
    );
    let want = old_ics.state.lock().unwrap().clone();
    for (g, w) in got.irqs.iter().zip(&want.irqs) {
        assert_eq!(
            (g.server, g.priority, g.status),
            (w.server, w.priority, w.status)
        );
    }
}

#[test]
fn dual_destination_keeps_reset_state_for_absent_xive_sections() {
    let src = Setup::new("xics", 2, 16);
    src.scramble(5);
    let dst = Setup::new("dual", 2, 16);
    let xive_before = dst
        .xive_router
        .as_ref()
        .unwrap()
        .state
        .lock()
        .unwrap()
        .clone();
    let report = load_into(&dst, &src.snapshot()).unwrap();
    assert_eq!(
        report.reset,
        vec![
            ("xive-source".to_owned(), 0),
            ("spapr-xive".to_owned(), 0),
            ("xive-tctx".to_owned(), 0),
            ("xive-tctx".to_owned(), 1)
        ]
    );
    assert_eq!(
        *dst.xive_router.as_ref().unwrap().state.lock().unwrap(),
        xive_before
    );
    assert_eq!(
        *dst.ics.as_ref().unwrap().state.lock().unwrap(),
        *src.ics.as_ref().unwrap().state.lock().unwrap()
    );
}

#[test]
fn envelope_is_what_rmp_serde_writes_with_named_fields() {
    #[derive(serde::Serialize)]
    struct Sub<'a> {
        name: &'a str,
        version_id: u32,
        fields: rmpv::Value,
    }
    #[derive(serde::Serialize)]
    struct Envelope<'a> {
        name: &'a str,
        instance_id: u32,
        version_id: u32,
        fields: rmpv::Value,
        subsections: Vec<Sub<'a>>,
    }
    let src = Setup::new("xics", 1, 4);
    src.machine
        .state
        .lock()
        .unwrap()
        .caps
        .insert("htm".into(), 1);
    let state = src.machine.save().unwrap();
    let mut stream = Vec::new();
    let mut w = StreamWriter::new(&mut stream, &src.header()).unwrap();
    w.write_section("spapr", 0, 3, &state).unwrap();
    w.finish().unwrap();

    let header = rmp_serde::to_vec_named(&src.header()).unwrap();
    let section_at = 12 + 5 + header.len();
    let len =
        u32::from_be_bytes(stream[section_at + 1..section_at + 5].try_into().unwrap()) as usize;
    let payload = &stream[section_at + 5..section_at + 5 + len];
    let dec = |b: &[u8]| rmpv::decode::read_value(&mut &b[..]).unwrap();
    let want = rmp_serde::to_vec_named(&Envelope {
        name: "spapr",
        instance_id: 0,
        version_id: 3,
        fields: dec(&state.fields),
        subsections: vec![Sub {
            name: "spapr/cap/htm",
            version_id: 1,
            fields: dec(&state.subsections[0].fields),
        }],
    })
    .unwrap();
    assert_eq!(payload, &want[..]);
    assert_eq!(stream[section_at], 0x02);
    assert_eq!(&stream[..8], b"PSRS-MIG");
    assert_eq!(&stream[8..12], &[0, 1, 0, 0]);
}

#[test]
fn bulk_ram_round_trips_with_zero_pages_and_stays_small() {
    const PAGE: usize = 4096;
    let mut ram = vec![0u8; 256 * PAGE];
    for p in [0usize, 1, 2, 100, 255] {
        for (i, b) in ram[p * PAGE..(p + 1) * PAGE].iter_mut().enumerate() {
            *b = (i as u8) ^ (p as u8) | 1;
        }
    }
    let src = Setup::new("xive", 2, 16);
    src.scramble(9);
    let mut w = StreamWriter::new(Vec::new(), &src.header()).unwrap();
    for c in src.components() {
        w.save(c.as_ref()).unwrap();
    }
    let nvram = vec![0xa5u8; 1000];
    w.begin_bulk(&[
        BulkDecl {
            name: "ram".into(),
            instance_id: 0,
            version_id: 1,
            len: ram.len() as u64,
        },
        BulkDecl {
            name: "nvram".into(),
            instance_id: 0,
            version_id: 1,
            len: 1000,
        },
    ])
    .unwrap();
    w.set_chunk_size(2 * PAGE).unwrap();
    w.bulk_pages(&ram, PAGE).unwrap();
    w.bulk_data_with(600, |out| out.write_all(&nvram[..600]))
        .unwrap();
    w.bulk_data(&nvram[600..]).unwrap();
    let stream = w.finish().unwrap();
    let data_pages = 5 * PAGE;
    assert!(
        stream.len() < data_pages + 16 * 1024,
        "zero pages cost 21 bytes each run: {}",
        stream.len()
    );

    let dst = Setup::new("xive", 2, 16);
    let mut dst_ram = vec![0xeeu8; ram.len()];
    let mut dst_nvram = vec![0u8; 1000];
    let mut loader = Loader::new();
    loader
        .components(dst.components())
        .bulk("ram", 0, 1, 1, &mut dst_ram)
        .bulk("nvram", 0, 1, 1, &mut dst_nvram);
    let report = loader.load_slice(&stream).unwrap();
    drop(loader);
    assert_eq!(report.bulk_bytes, ram.len() as u64 + 1000);
    assert!(dst_ram == ram, "RAM differs after the load");
    assert_eq!(dst_nvram, nvram);
    assert_eq!(dst.snapshot(), src.snapshot());
}

#[test]
fn reader_reports_records_in_order() {
    let src = Setup::new("xics", 2, 4);
    let stream = src.snapshot();
    let mut r = StreamReader::new(&stream[..], Limits::default()).unwrap();
    assert_eq!(r.header().ic_mode, "xics");
    let mut names = Vec::new();
    loop {
        match r.next_record().unwrap() {
            migration::stream::Record::Section(s) => names.push((s.name, s.instance_id)),
            migration::stream::Record::End(e) => {
                assert_eq!(e.records, 5, "header + 4 sections");
                assert_eq!(e.stream_len, stream.len() as u64);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        names,
        vec![
            ("ics".into(), 0),
            ("icp/server".into(), 0),
            ("icp/server".into(), 1),
            ("spapr".into(), 0)
        ]
    );
    assert!(r.next_record().is_err(), "nothing after END");
}

#[test]
fn header_fields_are_named_and_extra_is_optional() {
    let mut h = StreamHeader::new("pseries-4.2", "4.2", "POWER8", "xics");
    h.extra.insert("host".into(), "a".into());
    let bytes = rmp_serde::to_vec_named(&h).unwrap();
    let v: serde_json::Value = rmp_serde::from_slice(&bytes).unwrap();
    for key in [
        "machine_type",
        "machine_version",
        "cpu_model",
        "ic_mode",
        "caps",
        "vcpus",
        "producer",
        "extra",
    ] {
        assert!(v.get(key).is_some(), "{key}");
    }
    #[derive(serde::Serialize)]
    struct Old<'a> {
        machine_type: &'a str,
        machine_version: &'a str,
        cpu_model: &'a str,
        ic_mode: &'a str,
        caps: std::collections::BTreeMap<String, u8>,
        vcpus: u32,
        producer: &'a str,
    }
    let old = rmp_serde::to_vec_named(&Old {
        machine_type: "pseries-4.2",
        machine_version: "4.2",
        cpu_model: "POWER8",
        ic_mode: "xics",
        caps: Default::default(),
        vcpus: 1,
        producer: "x",
    })
    .unwrap();
    let back: StreamHeader = rmp_serde::from_slice(&old).unwrap();
    assert!(back.extra.is_empty());
}

#[test]
fn section_state_helpers_round_trip_raw_sections() {
    let mut s = SectionState::encode("x", &(1u8, "two")).unwrap();
    s.push_subsection_if(false, "x/a", 1, &1u8).unwrap();
    s.push_subsection_if(true, "x/b", 2, &vec![1u16, 2])
        .unwrap();
    assert_eq!(s.decode_subsection::<u8>("x/a").unwrap(), None);
    assert_eq!(
        s.decode_subsection::<Vec<u16>>("x/b").unwrap(),
        Some(vec![1, 2])
    );
    assert_eq!(s.decode::<(u8, String)>("x").unwrap(), (1, "two".into()));
}
