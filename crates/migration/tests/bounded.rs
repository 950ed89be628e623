//! The bounded reader on truncated, corrupted, oversized and hostile input:
//! typed errors, no panic, the destination untouched.

mod common;

use common::*;
use migration::{inspect, BulkDecl, Limits, Loader, MigrationError, StreamError, StreamWriter};
use proptest::prelude::*;

fn load(dst: &Setup, stream: &[u8]) -> Result<migration::LoadReport, MigrationError> {
    let mut loader = Loader::new();
    loader.components(dst.components());
    loader.load_slice(stream)
}

fn stream_err(e: MigrationError) -> StreamError {
    match e {
        MigrationError::Stream(s) => s,
        other => panic!("expected a stream error, got {other}"),
    }
}

/// Builds a stream by hand: preamble, HEADER of `setup`, the given records,
/// and a correct END.
fn raw(setup: &Setup, records: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut s = b"PSRS-MIG\x00\x01\x00\x00".to_vec();
    let push = |s: &mut Vec<u8>, tag: u8, p: &[u8]| {
        s.push(tag);
        s.extend_from_slice(&(p.len() as u32).to_be_bytes());
        s.extend_from_slice(p);
    };
    push(
        &mut s,
        1,
        &rmp_serde::to_vec_named(&setup.header()).unwrap(),
    );
    for (t, p) in records {
        push(&mut s, *t, p);
    }
    let crc = crc32fast::hash(&s);
    let mut end = crc.to_be_bytes().to_vec();
    end.extend_from_slice(&(records.len() as u32 + 1).to_be_bytes());
    push(&mut s, 0x7f, &end);
    s
}

/// A SECTION payload with the given fields bytes.
fn section_payload(name: &str, instance: u32, version: u32, fields: &[u8]) -> Vec<u8> {
    let mut p = vec![0x85];
    let mut kv = |k: &str, v: &[u8]| {
        p.push(0xa0 | k.len() as u8);
        p.extend_from_slice(k.as_bytes());
        p.extend_from_slice(v);
    };
    let mut n = Vec::new();
    n.push(0xa0 | name.len() as u8);
    n.extend_from_slice(name.as_bytes());
    kv("name", &n);
    kv("instance_id", &[instance as u8]);
    kv("version_id", &[version as u8]);
    kv("fields", fields);
    kv("subsections", &[0x90]);
    p
}

#[test]
fn hand_built_stream_is_accepted_so_the_helpers_are_right() {
    let dst = Setup::new("xics", 1, 4);
    let src = Setup::new("xics", 1, 4);
    src.icps[0].state.lock().unwrap().mfrr = 3;
    let fields = rmp_serde::to_vec_named(&*src.icps[0].state.lock().unwrap()).unwrap();
    let ics = rmp_serde::to_vec_named(&*src.ics.as_ref().unwrap().state.lock().unwrap()).unwrap();
    let m = rmp_serde::to_vec_named(&src.machine.state.lock().unwrap().fields).unwrap();
    let stream = raw(
        &src,
        &[
            (2, section_payload("ics", 0, 2, &ics)),
            (2, section_payload("icp/server", 0, 1, &fields)),
            (2, section_payload("spapr", 0, 3, &m)),
        ],
    );
    load(&dst, &stream).unwrap();
    assert_eq!(dst.icps[0].state.lock().unwrap().mfrr, 3);
}

#[test]
fn every_prefix_is_refused_as_truncated() {
    let src = Setup::new("xics", 1, 4);
    src.scramble(2);
    let good = src.snapshot();
    let dst = Setup::new("xics", 1, 4);
    let before = dst.snapshot();
    for n in 0..good.len() {
        match stream_err(load(&dst, &good[..n]).unwrap_err()) {
            StreamError::Truncated { offset, .. } => assert_eq!(offset, n as u64),
            other => panic!("prefix {n}: {other}"),
        }
    }
    assert_eq!(dst.snapshot(), before);
}

#[test]
fn every_single_bit_flip_is_refused() {
    let src = Setup::new("xics", 1, 4);
    src.scramble(3);
    let good = src.snapshot();
    let dst = Setup::new("xics", 1, 4);
    let before = dst.snapshot();
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut s = good.clone();
            s[i] ^= 1 << bit;
            assert!(
                load(&dst, &s).is_err(),
                "flip of bit {bit} of byte {i} accepted"
            );
        }
    }
    assert_eq!(dst.snapshot(), before);
}

#[test]
fn hostile_lengths_counts_and_depths_get_typed_errors() {
    let s = Setup::new("xics", 1, 4);
    let dst = Setup::new("xics", 1, 4);
    let limits = Limits::default();

    // A record announcing 4 GiB.
    let mut huge = b"PSRS-MIG\x00\x01\x00\x00\x01\xff\xff\xff\xff".to_vec();
    huge.extend_from_slice(&[0x80; 16]);
    match stream_err(load(&dst, &huge).unwrap_err()) {
        StreamError::LimitExceeded {
            what: "record length",
            value: 0xffff_ffff,
            ..
        } => {}
        other => panic!("{other}"),
    }
    // Under the limit but the stream stops: truncated, not a 64 MiB buffer.
    let mut lying = b"PSRS-MIG\x00\x01\x00\x00\x01\x03\xff\xff\xff".to_vec();
    lying.extend_from_slice(&[0x80; 16]);
    assert!(matches!(
        stream_err(load(&dst, &lying).unwrap_err()),
        StreamError::Truncated { .. }
    ));

    // Fields nested 100 deep.
    let mut deep = vec![0x91; 100];
    deep.push(0xc0);
    let e =
        stream_err(load(&dst, &raw(&s, &[(2, section_payload("ics", 0, 2, &deep))])).unwrap_err());
    assert!(
        matches!(
            e,
            StreamError::LimitExceeded {
                what: "MessagePack nesting depth",
                ..
            }
        ),
        "{e}"
    );

    // A map announcing 2^31 pairs, an array over the container limit.
    for fields in [
        vec![0xdf, 0x80, 0, 0, 0, 0xc0],
        vec![0xdd, 0x01, 0, 0, 1, 0xc0],
    ] {
        let e = stream_err(
            load(
                &dst,
                &raw(&s, &[(2, section_payload("ics", 0, 2, &fields))]),
            )
            .unwrap_err(),
        );
        assert!(
            matches!(
                e,
                StreamError::LimitExceeded {
                    what: "MessagePack container length",
                    ..
                }
            ),
            "{e}"
        );
    }
    // A string announcing more bytes than the record has.
    let e = stream_err(
        load(
            &dst,
            &raw(
                &s,
                &[(2, section_payload("ics", 0, 2, &[0xdb, 0, 0, 1, 0]))],
            ),
        )
        .unwrap_err(),
    );
    assert!(matches!(e, StreamError::Malformed { .. }), "{e}");

    // Over a tightened section count.
    let mut loader = Loader::new();
    loader.components(dst.components()).limits(Limits {
        max_sections: 2,
        ..limits.clone()
    });
    let e = stream_err(
        loader
            .load_slice(&Setup::new("xics", 1, 4).snapshot())
            .unwrap_err(),
    );
    assert!(
        matches!(
            e,
            StreamError::LimitExceeded {
                what: "section count",
                value: 3,
                ..
            }
        ),
        "{e}"
    );
    // Over a tightened name length.
    let mut loader = Loader::new();
    loader.components(dst.components()).limits(Limits {
        max_name_len: 5,
        ..limits.clone()
    });
    let e = stream_err(
        loader
            .load_slice(&Setup::new("xics", 1, 4).snapshot())
            .unwrap_err(),
    );
    assert!(
        matches!(
            e,
            StreamError::LimitExceeded {
                what: "section name",
                value: 10,
                ..
            }
        ),
        "{e}"
    );
    // Over a tightened total.
    let mut loader = Loader::new();
    loader.components(dst.components()).limits(Limits {
        max_device_bytes: 200,
        ..limits
    });
    let e = stream_err(
        loader
            .load_slice(&Setup::new("xics", 1, 4).snapshot())
            .unwrap_err(),
    );
    assert!(
        matches!(
            e,
            StreamError::LimitExceeded {
                what: "header and section bytes",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn structural_errors_are_named() {
    let s = Setup::new("xics", 1, 4);
    let dst = Setup::new("xics", 1, 4);
    let msg = |records: &[(u8, Vec<u8>)]| load(&dst, &raw(&s, records)).unwrap_err().to_string();
    assert!(msg(&[(0x42, vec![])]).starts_with("unknown record type 0x42 at byte"));
    assert!(msg(&[(1, vec![0x80])]).contains("HEADER record at byte"));
    assert!(msg(&[(4, vec![0; 9])]).contains("BULK_DATA record at byte"));
    let fields = [0x80];
    let mut unknown_key = section_payload("ics", 0, 2, &fields);
    unknown_key[0] = 0x86;
    unknown_key.extend_from_slice(&[0xa3, b'x', b'y', b'z', 0xc0]);
    assert!(msg(&[(2, unknown_key)]).contains("unknown key 'xyz'"));
    let mut missing = section_payload("ics", 0, 2, &fields);
    missing[0] = 0x84;
    missing.truncate(missing.len() - 13);
    assert!(msg(&[(2, missing)]).contains("no 'subsections' key"));
    let mut empty_name = section_payload("x", 0, 2, &fields);
    empty_name[6] = 0xa0;
    empty_name.remove(7);
    assert!(msg(&[(2, empty_name)]).contains("empty section name"));
    let mut trailing = section_payload("ics", 0, 2, &fields);
    trailing.push(0xc0);
    assert!(msg(&[(2, trailing)]).contains("1 bytes after the value"));

    // END's record count is checked.
    let mut good = s.snapshot();
    let n = good.len();
    good[n - 1] ^= 1;
    assert!(matches!(
        stream_err(load(&dst, &good).unwrap_err()),
        StreamError::RecordCount { .. }
    ));
}

fn bulk_stream(src: &Setup, ram: &[u8]) -> Vec<u8> {
    let mut w = StreamWriter::new(Vec::new(), &src.header()).unwrap();
    for c in src.components() {
        w.save(c.as_ref()).unwrap();
    }
    w.begin_bulk(&[BulkDecl {
        name: "ram".into(),
        instance_id: 0,
        version_id: 1,
        len: ram.len() as u64,
    }])
    .unwrap();
    w.set_chunk_size(256).unwrap();
    w.bulk_pages(ram, 64).unwrap();
    w.finish().unwrap()
}

#[test]
fn bulk_records_are_checked_against_the_index() {
    let src = Setup::new("xics", 1, 4);
    let mut ram = vec![0u8; 1024];
    ram[100..300].fill(7);
    let good = bulk_stream(&src, &ram);
    // Find the first BULK_DATA record and move its offset.
    // Pages 1 to 4 are not zero: one 256-byte chunk at 0x40.
    let at = good.windows(5).position(|w| w == [4, 0, 0, 1, 8]).unwrap();
    assert_eq!(good[at + 5..at + 13], 0x40u64.to_be_bytes());
    let mut moved = good.clone();
    moved[at + 12] ^= 0x10;
    let dst = Setup::new("xics", 1, 4);
    let mut sink = vec![0u8; 1024];
    let mut loader = Loader::new();
    loader
        .components(dst.components())
        .bulk("ram", 0, 1, 1, &mut sink);
    let e = stream_err(loader.load_slice(&moved).unwrap_err());
    assert!(
        e.to_string()
            .contains("offset 0x50 in 'ram' 0, expected 0x40"),
        "{e}"
    );
    drop(loader);
    // The index's own checksum covers the device part.
    // A change that still parses (a letter of the header's producer).
    let at = good.windows(10).position(|w| w == b"pseries-rs").unwrap();
    let mut bad_index = good.clone();
    bad_index[at + 9] = b'z';
    let mut loader = Loader::new();
    loader
        .components(dst.components())
        .bulk("ram", 0, 1, 1, &mut sink);
    let e = loader.load_slice(&bad_index).unwrap_err();
    assert!(
        e.to_string().contains("crc32 of the header and sections"),
        "{e}"
    );
}

fn fix_end(s: &mut [u8]) {
    let n = s.len();
    if n >= 13 && s[n - 13] == 0x7f && s[n - 12..n - 8] == [0, 0, 0, 8] {
        let crc = crc32fast::hash(&s[..n - 13]);
        s[n - 8..n - 4].copy_from_slice(&crc.to_be_bytes());
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    /// Overwrites 4 bytes with a big-endian length-like value.
    Length(usize, u32),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Set(p, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(p, v)| Mutation::Insert(p, v)),
        (any::<usize>(), 1usize..32).prop_map(|(p, n)| Mutation::Remove(p, n)),
        (
            any::<usize>(),
            prop_oneof![Just(u32::MAX), Just(0x0400_0000), Just(0), 0u32..4096]
        )
            .prop_map(|(p, v)| Mutation::Length(p, v)),
    ]
}

fn apply(s: &mut Vec<u8>, m: &Mutation) {
    if s.is_empty() {
        return;
    }
    let n = s.len();
    match m {
        Mutation::Flip(p, b) => s[p % n] ^= 1 << b,
        Mutation::Set(p, v) => s[p % n] = *v,
        Mutation::Truncate(p) => s.truncate(p % n),
        Mutation::Insert(p, v) => {
            let at = p % n;
            s.splice(at..at, v.iter().copied());
        }
        Mutation::Remove(p, k) => {
            let at = p % n;
            s.drain(at..(at + k).min(n));
        }
        Mutation::Length(p, v) => {
            let at = p % n;
            for (i, b) in v.to_be_bytes().iter().enumerate() {
                if at + i < n {
                    s[at + i] = *b;
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    /// Mutated streams (with and without a recomputed END checksum, so that
    /// mutations also reach the component decoders) never panic; a refused
    /// one leaves the destination's state as it was; inspect never panics.
    #[test]
    fn mutated_streams_never_panic_and_refusals_change_nothing(
        muts in proptest::collection::vec(mutation(), 1..4),
        fix_crc in any::<bool>(),
        bulk in any::<bool>(),
    ) {
        let src = Setup::new("dual", 2, 8);
        src.scramble(4);
        let mut ram = vec![0u8; 512];
        ram[64..200].fill(9);
        let good = if bulk { bulk_stream(&src, &ram) } else { src.snapshot() };
        let mut s = good.clone();
        for m in &muts {
            apply(&mut s, m);
        }
        if fix_crc {
            fix_end(&mut s);
        }
        let dst = Setup::new("dual", 2, 8);
        let before = dst.snapshot();
        let mut sink = vec![0u8; 512];
        let mut loader = Loader::new();
        loader.components(dst.components());
        if bulk {
            loader.bulk("ram", 0, 1, 1, &mut sink);
        }
        let res = loader.load_slice(&s);
        drop(loader);
        match res {
            Err(_) => prop_assert_eq!(dst.snapshot(), before),
            Ok(_) => prop_assert!(fix_crc || s == good, "a mutated stream passed the checksum"),
        }
        let shown = inspect::inspect(&s[..], &Limits::default());
        prop_assert_eq!(shown.is_valid(), s == good || (fix_crc && shown.error.is_none()));
        let _ = shown.to_text(false);
        let _ = shown.to_json();
    }
}
