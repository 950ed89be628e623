//! Property tests: hostile blobs never panic the reader, and random trees
//! survive build -> blob -> read unchanged.

use fdt::{diff, DiffOptions, Fdt, FdtBuilder, Node, Property};
use proptest::prelude::*;

/// A pseries-like blob with reservations, nesting, strings and cells.
fn seed_blob() -> Vec<u8> {
    let mut b = FdtBuilder::new();
    b.reserve_memory(0x10_0000, 0x1000).unwrap();
    b.set_boot_cpuid_phys(1);
    b.begin_node("").unwrap();
    b.property_string("compatible", "qemu,pseries").unwrap();
    b.property_u32("#address-cells", 2).unwrap();
    b.property_u32("#size-cells", 2).unwrap();
    b.node("chosen", |b| {
        b.property_string("bootargs", "console=hvc0")?;
        b.property_cells(
            "ibm,arch-vec-5-platform-support",
            &[0x1780_18c0, 0x1900_1a40],
        )
    })
    .unwrap();
    b.node("cpus", |b| {
        b.property_u32("#address-cells", 1)?;
        b.property_u32("#size-cells", 0)?;
        b.node("PowerPC,POWER9@0", |b| {
            b.property_reg(&[(0, 0)])?;
            b.property_null("64-bit")
        })
    })
    .unwrap();
    let ph = b.alloc_phandle().unwrap();
    b.node("interrupt-controller", |b| {
        b.property_strings("compatible", &["IBM,ppc-xicp"])?;
        b.property_phandle(ph)
    })
    .unwrap();
    b.end_node().unwrap();
    b.finish_dtb().unwrap()
}

/// Everything a caller may do with a parsed tree must not panic either.
fn exercise(blob: &[u8]) {
    if let Ok(t) = Fdt::from_dtb(blob) {
        let _ = t.to_dts();
        let _ = diff(&t, &t, &DiffOptions::new());
        for (path, node) in t.nodes() {
            assert!(t.node(&path).is_some(), "{path}");
            for p in &node.properties {
                let _ = (
                    p.as_u32(),
                    p.as_u64(),
                    p.as_cells(),
                    p.as_strings(),
                    p.as_reg(2, 1),
                );
            }
        }
        if let Ok(again) = t.to_dtb() {
            assert_eq!(Fdt::from_dtb(&again).unwrap(), t);
        }
    }
}

fn interesting_word() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(2),
        Just(3),
        Just(4),
        Just(9),
        Just(16),
        Just(17),
        Just(0x28),
        Just(0xd00d_feed),
        Just(u32::MAX),
        Just(u32::MAX - 3),
        Just(0x8000_0000),
        any::<u32>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_blobs_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        words in prop::collection::vec((any::<prop::sample::Index>(), interesting_word()), 0..4),
        truncate in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut blob = seed_blob();
        for (at, byte) in flips {
            let i = at.index(blob.len());
            blob[i] = byte;
        }
        for (at, w) in words {
            let i = at.index(blob.len() / 4) * 4;
            blob[i..i + 4].copy_from_slice(&w.to_be_bytes());
        }
        if let Some(at) = truncate {
            blob.truncate(at.index(blob.len() + 1));
        }
        exercise(&blob);
    }

    #[test]
    fn random_bytes_never_panic(mut blob in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise(&blob);
        // Also with a valid magic and version, to get past the first checks.
        if blob.len() >= 28 {
            blob[..4].copy_from_slice(&0xd00d_feed_u32.to_be_bytes());
            blob[20..24].copy_from_slice(&17u32.to_be_bytes());
            blob[24..28].copy_from_slice(&16u32.to_be_bytes());
            exercise(&blob);
        }
    }
}

/// Random trees with valid, sibling-unique names.
fn tree(depth: u32) -> BoxedStrategy<Node> {
    let props = prop::collection::btree_map(
        "[a-z#][a-z0-9,#-]{0,40}",
        prop::collection::vec(any::<u8>(), 0..24),
        0..5,
    );
    let leaf = props.clone().prop_map(|p| Node {
        name: String::new(),
        properties: p.into_iter().map(|(n, v)| Property::new(n, v)).collect(),
        children: Vec::new(),
    });
    if depth == 0 {
        return leaf.boxed();
    }
    (
        props,
        prop::collection::btree_map(
            "[a-z][a-z0-9,]{0,6}(@[0-9a-f]{1,4})?",
            tree(depth - 1),
            0..4,
        ),
    )
        .prop_map(|(p, c)| Node {
            name: String::new(),
            properties: p.into_iter().map(|(n, v)| Property::new(n, v)).collect(),
            children: c
                .into_iter()
                .map(|(name, mut n)| {
                    n.name = name;
                    n
                })
                .collect(),
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_trees_round_trip(root in tree(3), cpu in any::<u32>()) {
        let original = Fdt { boot_cpuid_phys: cpu, reservations: Vec::new(), root };
        // `phandle` values must be valid and unique; the generator may break
        // that, in which case to_dtb must say so rather than write the blob.
        match original.to_dtb() {
            Ok(blob) => {
                let back = Fdt::from_dtb(&blob).unwrap();
                prop_assert_eq!(&back, &original);
                prop_assert!(diff(&original, &back, &DiffOptions::new()).is_empty());
                prop_assert_eq!(back.to_dtb().unwrap(), blob);
            }
            Err(e) => prop_assert!(matches!(e, fdt::FdtError::InvalidPhandle(_) | fdt::FdtError::DuplicatePhandle(_)), "{e}"),
        }
    }
}
