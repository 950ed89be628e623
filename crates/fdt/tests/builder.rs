//! The builder: typed helpers, phandles, `reg`, reservations, and every
//! refusal.

use fdt::{Fdt, FdtBuilder, FdtError, Reservation};

/// A builder with the root open.
fn rooted() -> FdtBuilder {
    let mut b = FdtBuilder::new();
    b.begin_node("").unwrap();
    b
}

fn finish(mut b: FdtBuilder) -> Fdt {
    b.end_node().unwrap();
    Fdt::from_dtb(&b.finish_dtb().unwrap()).unwrap()
}

#[test]
fn typed_helpers_write_the_expected_bytes() {
    let mut b = rooted();
    b.property_u32("u32", 0x1234_5678).unwrap();
    b.property_u64("u64", 0x1122_3344_5566_7788).unwrap();
    b.property_cells("cells", &[1, 2, 0xffff_ffff]).unwrap();
    b.property_u64s("u64s", &[1, 1 << 40]).unwrap();
    b.property_string("str", "qemu,pseries").unwrap();
    b.property_strings("strs", &["hcall-pft", "hcall-term"])
        .unwrap();
    b.property_null("interrupt-controller").unwrap();
    b.property("raw", &[1, 2, 3]).unwrap();
    let t = finish(b);
    let r = &t.root;
    assert_eq!(r.get_bytes("u32").unwrap(), &[0x12, 0x34, 0x56, 0x78]);
    assert_eq!(r.get_u32("u32").unwrap(), 0x1234_5678);
    assert_eq!(r.get_u64("u64").unwrap(), 0x1122_3344_5566_7788);
    assert_eq!(r.get_cells("cells").unwrap(), vec![1, 2, 0xffff_ffff]);
    assert_eq!(r.get_u64s("u64s").unwrap(), vec![1, 1 << 40]);
    assert_eq!(r.get_bytes("str").unwrap(), b"qemu,pseries\0");
    assert_eq!(r.get_str("str").unwrap(), "qemu,pseries");
    assert_eq!(r.get_bytes("strs").unwrap(), b"hcall-pft\0hcall-term\0");
    assert_eq!(
        r.get_strings("strs").unwrap(),
        vec!["hcall-pft", "hcall-term"]
    );
    assert!(r.get("interrupt-controller").unwrap().is_empty());
    assert_eq!(r.get_bytes("raw").unwrap(), &[1, 2, 3]);
    // Properties keep insertion order.
    let names: Vec<_> = r.properties.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "u32",
            "u64",
            "cells",
            "u64s",
            "str",
            "strs",
            "interrupt-controller",
            "raw"
        ]
    );
}

#[test]
fn header_fields_and_sorted_reservations() {
    let mut b = FdtBuilder::new();
    b.set_boot_cpuid_phys(8);
    b.reserve_memory(0x2000, 0x1000).unwrap();
    b.reserve_memory(0x1000, 0x1000).unwrap();
    b.begin_node("").unwrap();
    let t = finish(b);
    assert_eq!(t.boot_cpuid_phys, 8);
    assert_eq!(
        t.reservations,
        vec![
            Reservation {
                address: 0x1000,
                size: 0x1000
            },
            Reservation {
                address: 0x2000,
                size: 0x1000
            }
        ]
    );
}

#[test]
fn reservation_errors() {
    let mut b = FdtBuilder::new();
    assert!(matches!(
        b.reserve_memory(0x1000, 0),
        Err(FdtError::InvalidReservation { .. })
    ));
    assert!(matches!(
        b.reserve_memory(u64::MAX, 2),
        Err(FdtError::InvalidReservation { .. })
    ));
    b.reserve_memory(0x1000, 0x1000).unwrap();
    assert!(matches!(
        b.reserve_memory(0x1fff, 1),
        Err(FdtError::OverlappingReservation { .. })
    ));
    assert!(matches!(
        b.reserve_memory(0, 0x1001),
        Err(FdtError::OverlappingReservation { .. })
    ));
    b.reserve_memory(0x2000, 1).unwrap();
    b.reserve_memory(0, 0x1000).unwrap();
}

#[test]
fn phandles_are_allocated_around_fixed_ones() {
    let mut b = rooted();
    b.begin_node("a").unwrap();
    b.property_phandle(2).unwrap();
    b.end_node().unwrap();
    let p1 = b.alloc_phandle().unwrap();
    let p2 = b.alloc_phandle().unwrap();
    assert_eq!((p1, p2), (1, 3));
    b.begin_node("b").unwrap();
    b.property_phandle(p2).unwrap();
    b.end_node().unwrap();
    let t = finish(b);
    let a = t.node("/a").unwrap();
    assert_eq!(a.get_u32("phandle").unwrap(), 2);
    assert_eq!(a.get_u32("linux,phandle").unwrap(), 2);
    assert_eq!(t.node("/b").unwrap().get_u32("phandle").unwrap(), 3);
}

#[test]
fn phandle_errors() {
    let mut b = rooted();
    assert_eq!(b.property_phandle(0), Err(FdtError::InvalidPhandle(0)));
    assert_eq!(
        b.property_phandle(u32::MAX),
        Err(FdtError::InvalidPhandle(u32::MAX))
    );
    b.begin_node("x").unwrap();
    b.property_phandle(0x1111).unwrap();
    assert!(matches!(
        b.property_phandle(0x1112),
        Err(FdtError::DuplicateProperty { .. })
    ));
    b.end_node().unwrap();
    b.begin_node("y").unwrap();
    assert_eq!(
        b.property_phandle(0x1111),
        Err(FdtError::DuplicatePhandle(0x1111))
    );
    // A raw `phandle` property is checked the same way.
    assert_eq!(
        b.property_u32("phandle", 0x1111),
        Err(FdtError::DuplicatePhandle(0x1111))
    );
    assert_eq!(
        b.property("phandle", &[1]),
        Err(FdtError::InvalidPhandle(0))
    );
    // The failed calls wrote nothing: the node can still take its phandle.
    b.property_phandle(5).unwrap();
    b.end_node().unwrap();
    let t = finish(b);
    assert_eq!(t.node("/y").unwrap().properties.len(), 2);
}

#[test]
fn reg_uses_the_parents_cells() {
    let mut b = rooted();
    b.property_u32("#address-cells", 2).unwrap();
    b.property_u32("#size-cells", 2).unwrap();
    b.node("memory@0", |b| {
        b.property_reg(&[(0, 0x2000_0000), (1 << 32, 1 << 33)])
    })
    .unwrap();
    b.node("cpus", |b| {
        b.property_u32("#address-cells", 1)?;
        b.property_u32("#size-cells", 0)?;
        b.node("cpu@8", |b| b.property_reg(&[(8, 0)]))
    })
    .unwrap();
    b.node("vdevice", |b| {
        // No cells declared here: the Devicetree defaults 2 and 1 apply.
        b.node("vty@71000000", |b| b.property_reg(&[(0x7100_0000, 0x10)]))
    })
    .unwrap();
    let t = finish(b);
    assert_eq!(
        t.node("/memory@0").unwrap().get_cells("reg").unwrap(),
        vec![0, 0, 0, 0x2000_0000, 1, 0, 2, 0]
    );
    assert_eq!(
        t.reg("/memory@0").unwrap(),
        vec![(0, 0x2000_0000), (1 << 32, 1 << 33)]
    );
    assert_eq!(
        t.node("/cpus/cpu@8").unwrap().get_cells("reg").unwrap(),
        vec![8]
    );
    assert_eq!(t.reg("/cpus/cpu@8").unwrap(), vec![(8, 0)]);
    assert_eq!(
        t.node("/vdevice/vty@71000000")
            .unwrap()
            .get_cells("reg")
            .unwrap(),
        vec![0, 0x7100_0000, 0x10]
    );
}

#[test]
fn reg_errors() {
    let mut b = rooted();
    b.property_u32("#address-cells", 1).unwrap();
    b.property_u32("#size-cells", 0).unwrap();
    b.begin_node("cpu@0").unwrap();
    assert!(matches!(
        b.property_reg(&[(1 << 32, 0)]),
        Err(FdtError::CellOverflow {
            what: "address",
            cells: 1,
            ..
        })
    ));
    assert!(matches!(
        b.property_reg(&[(0, 1)]),
        Err(FdtError::CellOverflow {
            what: "size",
            cells: 0,
            ..
        })
    ));
    assert!(matches!(
        b.property_reg_cells("reg", 3, 2, &[(0, 0)]),
        Err(FdtError::UnsupportedCells { cells: 3, .. })
    ));
    b.property_reg_cells("reg", 1, 1, &[(4, 5)]).unwrap();
}

#[test]
fn structure_errors() {
    let mut b = FdtBuilder::new();
    assert_eq!(
        b.property_u32("x", 1),
        Err(FdtError::NoOpenNode("property"))
    );
    assert_eq!(b.end_node(), Err(FdtError::NoOpenNode("end_node")));
    assert_eq!(
        b.begin_node("cpus"),
        Err(FdtError::RootNotFirst("cpus".into()))
    );
    b.begin_node("").unwrap();
    assert!(matches!(
        b.begin_node(""),
        Err(FdtError::InvalidNodeName { .. })
    ));
    b.property_u32("x", 1).unwrap();
    assert!(matches!(
        b.property_u32("x", 2),
        Err(FdtError::DuplicateProperty { .. })
    ));
    b.node("cpus", |_| Ok(())).unwrap();
    assert_eq!(
        b.begin_node("cpus"),
        Err(FdtError::DuplicateNode("/cpus".into()))
    );
    assert!(matches!(
        b.property_u32("y", 1),
        Err(FdtError::PropertyAfterSubnode { .. })
    ));
    b.begin_node("memory@0").unwrap();
    assert_eq!(b.current_path(), "/memory@0");
    let b2 = std::mem::take(&mut b);
    assert_eq!(
        b2.finish().unwrap_err(),
        FdtError::UnclosedNodes {
            count: 2,
            path: "/memory@0".into()
        }
    );
    assert_eq!(FdtBuilder::new().finish().unwrap_err(), FdtError::NoRoot);

    let mut b = rooted();
    b.end_node().unwrap();
    assert_eq!(b.begin_node(""), Err(FdtError::SecondRoot(String::new())));
    assert_eq!(b.end_node(), Err(FdtError::NoOpenNode("end_node")));
    assert!(b.finish().is_ok());
}

#[test]
fn name_and_string_errors() {
    let mut b = rooted();
    for bad in ["1cpu", "a b", "a@", "x/y", "@0"] {
        assert!(
            matches!(b.begin_node(bad), Err(FdtError::InvalidNodeName { .. })),
            "{bad}"
        );
    }
    for bad in ["", "a b", "a/b", "x\0y"] {
        assert!(
            matches!(
                b.property_null(bad),
                Err(FdtError::InvalidPropertyName { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        b.property_string("s", "a\0b"),
        Err(FdtError::StringContainsNul { .. })
    ));
    assert!(matches!(
        b.property_strings("s", &["ok", "a\0b"]),
        Err(FdtError::StringContainsNul { .. })
    ));
    // PAPR names longer than the Devicetree spec's 31 characters are fine.
    b.property_cells("ibm,associativity-reference-points", &[4, 4, 2])
        .unwrap();
    let t = finish(b);
    assert_eq!(t.root.properties.len(), 1);
}

#[test]
fn depth_is_capped() {
    let mut b = rooted();
    for _ in 1..fdt::MAX_DEPTH {
        b.begin_node("n").unwrap();
    }
    assert_eq!(b.depth(), fdt::MAX_DEPTH);
    assert!(matches!(b.begin_node("n"), Err(FdtError::TooDeep(_))));
    while b.depth() > 0 {
        b.end_node().unwrap();
    }
    let t = Fdt::from_dtb(&b.finish_dtb().unwrap()).unwrap();
    assert_eq!(t.nodes().len(), fdt::MAX_DEPTH);
}

#[test]
fn node_closure_keeps_nesting_balanced() {
    let mut b = rooted();
    let err = b.node("a", |b| {
        b.begin_node("left-open")?;
        b.property_u32("x", 1)?;
        b.property_u32("x", 2)
    });
    assert!(matches!(err, Err(FdtError::DuplicateProperty { .. })));
    assert_eq!(b.current_path(), "/");
    let err = b.node("b", |b| {
        b.end_node()?;
        b.end_node()
    });
    assert_eq!(err, Err(FdtError::ClosedByClosure("/b".into())));
    assert_eq!(b.depth(), 0);
    let t = Fdt::from_dtb(&b.finish_dtb().unwrap()).unwrap();
    assert!(t.node("/a/left-open").is_some());
}

#[test]
fn tree_round_trips_through_to_dtb() {
    let mut b = FdtBuilder::new();
    b.reserve_memory(0x100_0000, 0x1000).unwrap();
    b.set_boot_cpuid_phys(3);
    b.begin_node("").unwrap();
    b.property_string("model", "IBM pSeries (emulated by qemu)")
        .unwrap();
    b.node("chosen", |b| b.property_string("bootargs", "console=hvc0"))
        .unwrap();
    b.end_node().unwrap();
    let blob = b.finish_dtb().unwrap();
    let t = Fdt::from_dtb(&blob).unwrap();
    assert_eq!(t.to_dtb().unwrap(), blob);
}

#[test]
fn to_dtb_validates_hand_made_trees() {
    let mut t = Fdt::default();
    t.root.children.push(fdt::Node::new("a"));
    t.root.children.push(fdt::Node::new("a"));
    assert_eq!(t.to_dtb(), Err(FdtError::DuplicateNode("/a".into())));
    t.root.children.pop();
    t.root.name = "x".into();
    assert_eq!(t.to_dtb(), Err(FdtError::RootNotFirst("x".into())));
}
