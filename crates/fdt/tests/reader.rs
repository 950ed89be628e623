//! The reader: queries, typed getters, and refusal of malformed blobs.

use fdt::{Fdt, FdtBuilder, PropertyError, ReadError};

fn sample() -> Vec<u8> {
    let mut b = FdtBuilder::new();
    b.reserve_memory(0x1000, 0x100).unwrap();
    b.begin_node("").unwrap();
    b.property_u32("#address-cells", 2).unwrap();
    b.property_u32("#size-cells", 2).unwrap();
    b.node("cpus", |b| {
        b.property_u32("#address-cells", 1)?;
        b.property_u32("#size-cells", 0)?;
        for i in 0..2u32 {
            b.node(&format!("PowerPC,POWER9@{i}"), |b| {
                b.property_string("device_type", "cpu")?;
                b.property_reg(&[(u64::from(i), 0)])?;
                b.property_cells("ibm,ppc-interrupt-gserver#s", &[i, 0])
            })?;
        }
        Ok(())
    })
    .unwrap();
    b.node("memory@0", |b| b.property_reg(&[(0, 0x2000_0000)]))
        .unwrap();
    b.end_node().unwrap();
    b.finish_dtb().unwrap()
}

fn set_word(blob: &mut [u8], index: usize, value: u32) {
    blob[index * 4..index * 4 + 4].copy_from_slice(&value.to_be_bytes());
}

fn word(blob: &[u8], index: usize) -> u32 {
    u32::from_be_bytes(blob[index * 4..index * 4 + 4].try_into().unwrap())
}

#[test]
fn lookup_by_path_and_children() {
    let t = Fdt::from_dtb(&sample()).unwrap();
    let cpus = t.node("/cpus").unwrap();
    let names: Vec<_> = cpus.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["PowerPC,POWER9@0", "PowerPC,POWER9@1"]);
    let cpu1 = t.node("/cpus/PowerPC,POWER9@1").unwrap();
    assert_eq!(cpu1.base_name(), "PowerPC,POWER9");
    assert_eq!(cpu1.unit_address(), Some("1"));
    assert_eq!(
        cpu1.get_cells("ibm,ppc-interrupt-gserver#s").unwrap(),
        vec![1, 0]
    );
    // A name without unit address finds the first match, as libfdt does.
    assert_eq!(t.node("/memory").unwrap().name, "memory@0");
    assert_eq!(
        t.node("/cpus/PowerPC,POWER9").unwrap().name,
        "PowerPC,POWER9@0"
    );
    assert!(t.node("/").is_some());
    assert!(t.node("/cpus/").is_some());
    assert!(t.node("/nope").is_none());
    assert!(t.node("cpus").is_none());
    assert!(t.node("/memory@1").is_none());
    let paths: Vec<_> = t.nodes().into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        [
            "/",
            "/cpus",
            "/cpus/PowerPC,POWER9@0",
            "/cpus/PowerPC,POWER9@1",
            "/memory@0"
        ]
    );
    assert_eq!(t.reg("/memory@0").unwrap(), vec![(0, 0x2000_0000)]);
    assert_eq!(t.reservations.len(), 1);
}

#[test]
fn typed_getter_errors() {
    let t = Fdt::from_dtb(&sample()).unwrap();
    let cpu = t.node("/cpus/PowerPC,POWER9@0").unwrap();
    assert_eq!(
        cpu.get_u32("nope"),
        Err(PropertyError::Missing("nope".into()))
    );
    assert!(matches!(
        cpu.get_u32("ibm,ppc-interrupt-gserver#s"),
        Err(PropertyError::BadLength { len: 8, .. })
    ));
    assert_eq!(cpu.get_u64("ibm,ppc-interrupt-gserver#s").unwrap(), 0);
    assert!(matches!(
        cpu.get_u64("reg"),
        Err(PropertyError::BadLength { .. })
    ));
    assert!(matches!(
        cpu.get_str("reg"),
        Err(PropertyError::NotString(_))
    ));
    assert!(matches!(
        fdt::Property::new("x", vec![1, 2, 3]).as_cells(),
        Err(PropertyError::BadLength { len: 3, .. })
    ));
    assert_eq!(t.reg("/nope"), Err(PropertyError::NoNode("/nope".into())));
    let p = fdt::Property::new("s", b"a\0b\0".to_vec());
    assert!(p.as_str().is_err());
    assert_eq!(p.as_strings().unwrap(), vec!["a", "b"]);
    assert!(fdt::Property::new("s", vec![0xff, 0]).as_strings().is_err());
}

#[test]
fn header_is_validated() {
    let good = sample();
    assert!(matches!(
        Fdt::from_dtb(&good[..20]),
        Err(ReadError::TooShort { .. })
    ));

    let mut b = good.clone();
    set_word(&mut b, 0, 0xfeed_d00d);
    assert_eq!(Fdt::from_dtb(&b), Err(ReadError::BadMagic(0xfeed_d00d)));

    let mut b = good.clone();
    set_word(&mut b, 1, good.len() as u32 + 1);
    assert!(matches!(
        Fdt::from_dtb(&b),
        Err(ReadError::BadTotalSize { .. })
    ));

    for (version, last) in [(15, 15), (17, 18)] {
        let mut b = good.clone();
        set_word(&mut b, 5, version);
        set_word(&mut b, 6, last);
        assert!(matches!(
            Fdt::from_dtb(&b),
            Err(ReadError::UnsupportedVersion { .. })
        ));
    }

    let mut b = good.clone();
    set_word(&mut b, 2, 2); // structure offset inside the header
    assert!(matches!(
        Fdt::from_dtb(&b),
        Err(ReadError::Misaligned { .. })
    ));
    let mut b = good.clone();
    set_word(&mut b, 2, 4);
    assert!(matches!(
        Fdt::from_dtb(&b),
        Err(ReadError::BlockOutOfBounds { .. })
    ));
    let mut b = good.clone();
    set_word(&mut b, 9, u32::MAX);
    assert!(matches!(
        Fdt::from_dtb(&b),
        Err(ReadError::BlockOutOfBounds { .. })
    ));
    let mut b = good.clone();
    set_word(&mut b, 3, u32::MAX);
    assert!(matches!(
        Fdt::from_dtb(&b),
        Err(ReadError::BlockOutOfBounds { .. })
    ));
    let mut b = good.clone();
    set_word(&mut b, 4, 44);
    assert!(matches!(
        Fdt::from_dtb(&b),
        Err(ReadError::Misaligned { .. })
    ));
    let mut b = good.clone();
    set_word(&mut b, 4, (good.len() as u32 + 16) & !7);
    assert!(matches!(
        Fdt::from_dtb(&b),
        Err(ReadError::BlockOutOfBounds { .. })
    ));

    // Trailing bytes after totalsize are ignored.
    let mut b = good.clone();
    b.extend_from_slice(&[0xaa; 64]);
    assert_eq!(Fdt::from_dtb(&b).unwrap(), Fdt::from_dtb(&good).unwrap());
}

#[test]
fn version_16_blobs_are_read() {
    let mut b = sample();
    set_word(&mut b, 5, 16);
    let t = Fdt::from_dtb(&b).unwrap();
    assert_eq!(t, Fdt::from_dtb(&sample()).unwrap());
}

#[test]
fn unterminated_reservation_map() {
    let good = sample();
    let off_rsv = word(&good, 4) as usize;
    let mut b = good.clone();
    // Replace the terminator and everything after it with non-zero sizes.
    for chunk in b[off_rsv..].chunks_mut(8) {
        chunk.fill(0x11);
    }
    assert_eq!(Fdt::from_dtb(&b), Err(ReadError::UnterminatedReservations));
    // Point the map near the end: no room for a 16-byte entry.
    let mut b = good.clone();
    set_word(&mut b, 4, (good.len() as u32 - 8) & !7);
    assert_eq!(Fdt::from_dtb(&b), Err(ReadError::UnterminatedReservations));
}

/// A blob assembled by hand from structure words and a strings block.
fn raw_blob(structure: &[u32], strings: &[u8]) -> Vec<u8> {
    let mut s: Vec<u8> = structure.iter().flat_map(|w| w.to_be_bytes()).collect();
    let off_struct = 40 + 16;
    let off_strings = off_struct + s.len();
    let total = off_strings + strings.len();
    let header = [
        0xd00d_feed,
        total as u32,
        off_struct as u32,
        off_strings as u32,
        40,
        17,
        16,
        0,
        strings.len() as u32,
        s.len() as u32,
    ];
    let mut blob: Vec<u8> = header.iter().flat_map(|w| w.to_be_bytes()).collect();
    blob.extend_from_slice(&[0; 16]);
    blob.append(&mut s);
    blob.extend_from_slice(strings);
    blob
}

const BEGIN: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;
/// "a\0\0\0" as a node name word.
const NAME_A: u32 = 0x6100_0000;

/// Recognises the expected error of a malformed-structure case.
type Check = fn(&ReadError) -> bool;

#[test]
fn structure_is_validated() {
    let strings = b"x\0y\0";
    let ok = raw_blob(
        &[
            NOP, BEGIN, 0, PROP, 0, 0, BEGIN, NAME_A, END_NODE, END_NODE, END,
        ],
        strings,
    );
    let t = Fdt::from_dtb(&ok).unwrap();
    assert!(t.root.has_property("x") && t.node("/a").is_some());

    let cases: &[(&[u32], Check)] = &[
        (&[PROP, 0, 0, END], |e| {
            matches!(e, ReadError::BadStructure { .. })
        }),
        (&[END_NODE, END], |e| {
            matches!(e, ReadError::BadStructure { .. })
        }),
        (&[END], |e| matches!(e, ReadError::BadStructure { .. })),
        (&[BEGIN, 0, END], |e| {
            matches!(e, ReadError::BadStructure { .. })
        }),
        (&[BEGIN, 0, END_NODE, BEGIN, 0, END_NODE, END], |e| {
            matches!(e, ReadError::BadStructure { .. })
        }),
        (&[BEGIN, 0, 7, END_NODE, END], |e| {
            matches!(e, ReadError::BadToken { token: 7, .. })
        }),
        (&[BEGIN, 0, END_NODE], |e| {
            matches!(e, ReadError::Truncated(_))
        }),
        (&[BEGIN, 0, PROP, 100, 0, END_NODE, END], |e| {
            matches!(e, ReadError::Truncated(_))
        }),
        (&[BEGIN, 0, PROP, 0, 4, END_NODE, END], |e| {
            matches!(e, ReadError::BadNameOffset(4))
        }),
        (&[BEGIN, 0, PROP, 0, 0, PROP, 0, 0, END_NODE, END], |e| {
            matches!(e, ReadError::DuplicateProperty { .. })
        }),
        (
            &[
                BEGIN, 0, BEGIN, NAME_A, END_NODE, BEGIN, NAME_A, END_NODE, END_NODE, END,
            ],
            |e| matches!(e, ReadError::DuplicateNode(p) if p == "/a"),
        ),
        (
            &[BEGIN, 0, BEGIN, NAME_A, END_NODE, PROP, 0, 0, END_NODE, END],
            |e| {
                matches!(
                    e,
                    ReadError::BadStructure {
                        what: "property after a subnode",
                        ..
                    }
                )
            },
        ),
        // Root named "a", and a subnode with an empty name.
        (&[BEGIN, NAME_A, END_NODE, END], |e| {
            matches!(e, ReadError::BadName { .. })
        }),
        (&[BEGIN, 0, BEGIN, 0, END_NODE, END_NODE, END], |e| {
            matches!(e, ReadError::BadName { .. })
        }),
        // Node name "a/b".
        (
            &[BEGIN, 0, BEGIN, 0x612f_6200, END_NODE, END_NODE, END],
            |e| matches!(e, ReadError::BadName { .. }),
        ),
        // Node name without NUL before the end of the block.
        (&[BEGIN, 0, BEGIN, 0x6161_6161], |e| {
            matches!(e, ReadError::Truncated(_))
        }),
    ];
    for (i, (words, check)) in cases.iter().enumerate() {
        let err = Fdt::from_dtb(&raw_blob(words, strings)).unwrap_err();
        assert!(check(&err), "case {i}: {err:?}");
    }
}

#[test]
fn long_names_are_bounded() {
    // A property name offset pointing at a string with no NUL nearby.
    let mut strings = vec![b'x'; 1000];
    strings.push(0);
    let blob = raw_blob(&[BEGIN, 0, PROP, 0, 0, END_NODE, END], &strings);
    assert_eq!(Fdt::from_dtb(&blob), Err(ReadError::BadNameOffset(0)));
    // A node name longer than MAX_NAME_LEN.
    let mut words = vec![BEGIN, 0, BEGIN];
    words.extend(std::iter::repeat_n(0x6161_6161, 100));
    words.extend([0, END_NODE, END_NODE, END]);
    let err = Fdt::from_dtb(&raw_blob(&words, b"")).unwrap_err();
    assert!(
        matches!(err, ReadError::BadName { kind: "node", .. }),
        "{err:?}"
    );
}

#[test]
fn depth_is_bounded() {
    let mut words = vec![BEGIN, 0];
    for _ in 0..fdt::MAX_DEPTH {
        words.extend([BEGIN, NAME_A]);
    }
    let err = Fdt::from_dtb(&raw_blob(&words, b"")).unwrap_err();
    assert!(matches!(err, ReadError::TooDeep(_)), "{err:?}");
}
