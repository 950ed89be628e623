//! With the real dtc: validation, findings, and `to_dts` matching dtc's own
//! rendering byte for byte. Each test skips (with a message) without dtc,
//! and fails in CI.

use fdt::{parse_findings, Dtc, DtcError, Fdt, FdtBuilder, Node, Property, Severity};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// A small well-formed pseries-like tree that passes every dtc check.
fn clean_tree() -> Vec<u8> {
    let mut b = FdtBuilder::new();
    b.reserve_memory(0x1000_0000, 0x1_0000).unwrap();
    b.begin_node("").unwrap();
    b.property_u32("#address-cells", 2).unwrap();
    b.property_u32("#size-cells", 2).unwrap();
    b.property_string("compatible", "qemu,pseries").unwrap();
    b.node("cpus", |b| {
        b.property_u32("#address-cells", 1)?;
        b.property_u32("#size-cells", 0)?;
        b.node("PowerPC,POWER9@0", |b| {
            b.property_string("device_type", "cpu")?;
            b.property_reg(&[(0, 0)])
        })
    })
    .unwrap();
    b.node("memory@0", |b| {
        b.property_string("device_type", "memory")?;
        b.property_reg(&[(0, 0x2000_0000)])
    })
    .unwrap();
    b.end_node().unwrap();
    b.finish_dtb().unwrap()
}

#[test]
fn clean_tree_passes_and_matches_our_rendering() {
    let Some(dtc) = Dtc::for_tests() else { return };
    assert!(dtc.version().unwrap().contains("DTC"));
    let blob = clean_tree();
    let dts = dtc.validate(&blob, &[]).unwrap();
    assert_eq!(Fdt::from_dtb(&blob).unwrap().to_dts(), dts);
}

#[test]
fn findings_are_failures_unless_allowed() {
    let Some(dtc) = Dtc::for_tests() else { return };
    // QEMU's XICS node shape: an interrupt provider with no #address-cells,
    // and a unit address without reg.
    let mut b = FdtBuilder::new();
    b.begin_node("").unwrap();
    b.property_u32("#address-cells", 2).unwrap();
    b.property_u32("#size-cells", 2).unwrap();
    b.node("interrupt-controller", |b| {
        b.property_null("interrupt-controller")?;
        b.property_u32("#interrupt-cells", 2)
    })
    .unwrap();
    b.node("vdevice@1", |_| Ok(())).unwrap();
    b.end_node().unwrap();
    let blob = b.finish_dtb().unwrap();

    let Err(DtcError::Checks { findings, dts }) = dtc.validate(&blob, &[]) else {
        panic!("dtc should report the problems");
    };
    let checks: Vec<_> = findings.iter().map(|f| f.check.as_str()).collect();
    assert!(checks.contains(&"interrupt_provider"), "{findings:?}");
    assert!(checks.contains(&"unit_address_vs_reg"), "{findings:?}");
    assert!(findings.iter().all(|f| f.severity == Severity::Warning));
    assert!(dts.contains("interrupt-controller {"));

    let Err(DtcError::Checks { findings, .. }) = dtc.validate(&blob, &["interrupt_provider"])
    else {
        panic!("unit_address_vs_reg is still reported");
    };
    assert!(
        findings.iter().all(|f| f.check == "unit_address_vs_reg"),
        "{findings:?}"
    );
    dtc.validate(&blob, &["interrupt_provider", "unit_address_vs_reg"])
        .unwrap();

    // A misspelt allowance is an error, not a silent pass.
    let err = dtc.validate(&blob, &["no_such_check"]).unwrap_err();
    assert!(
        matches!(&err, DtcError::Failed { stderr, .. } if stderr.contains("no_such_check")),
        "{err}"
    );
}

#[test]
fn dtc_refuses_garbage() {
    let Some(dtc) = Dtc::for_tests() else { return };
    assert!(matches!(
        dtc.validate(b"not a blob", &[]),
        Err(DtcError::Failed { .. })
    ));
    assert!(matches!(
        dtc.compile("/dts-v1/; / { x = <1; };"),
        Err(DtcError::Failed { .. })
    ));
}

#[test]
fn compile_and_load_dts() {
    let Some(dtc) = Dtc::for_tests() else { return };
    let t = dtc
        .load_dts("/dts-v1/;\n/memreserve/ 0x1000 0x2000;\n/ { a = <1 2>; b = \"x\", \"y\"; n@1 { reg = <1>; }; };")
        .unwrap();
    assert_eq!(t.root.get_cells("a").unwrap(), vec![1, 2]);
    assert_eq!(t.root.get_strings("b").unwrap(), vec!["x", "y"]);
    assert_eq!(t.reservations[0].size, 0x2000);
    assert!(t.node("/n@1").is_some());
}

#[test]
fn finding_lines_are_parsed() {
    let stderr = "<stdout>: Warning (interrupt_provider): /event-sources: Missing #address-cells in interrupt provider\n\
                  <stdout>: ERROR (unit_address_vs_reg): /n@1: node has a unit name, but no reg or ranges property\n\
                  ERROR: Input tree has errors, aborting (use -f to force output)\n";
    let f = parse_findings(stderr);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].check, "interrupt_provider");
    assert_eq!(
        f[0].message,
        "/event-sources: Missing #address-cells in interrupt provider"
    );
    assert_eq!(f[1].severity, Severity::Error);
    assert_eq!(f[1].check, "unit_address_vs_reg");
    assert_eq!(
        f[1].to_string(),
        "ERROR (unit_address_vs_reg): /n@1: node has a unit name, but no reg or ranges property"
    );
}

/// Values chosen to hit each of dtc's rendering guesses: strings with
/// escapes and embedded NULs, cells, bytes, high bytes, empty strings.
fn value() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => 0x20u8..0x7f,
        2 => Just(0u8),
        1 => prop::sample::select(vec![7u8, 8, 9, 10, 11, 12, 13, b'"', b'\\']),
        1 => any::<u8>(),
    ];
    prop_oneof![
        prop::collection::vec(byte, 0..12),
        "[ -~]{0,10}".prop_map(|s| {
            let mut v = s.into_bytes();
            v.push(0);
            v
        }),
    ]
}

#[test]
fn to_dts_matches_dtc_on_random_values() {
    let Some(dtc) = Dtc::for_tests() else { return };
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    let strategy = prop::collection::vec(value(), 1..40);
    runner
        .run(&strategy, |values| {
            let mut root = Node::new("");
            let mut child = Node::new("child@1");
            for (i, v) in values.into_iter().enumerate() {
                child.properties.push(Property::new(format!("p{i}"), v));
            }
            root.children.push(child);
            let tree = Fdt {
                boot_cpuid_phys: 0,
                reservations: vec![fdt::Reservation {
                    address: 0x10,
                    size: 0xffff_0000_0000,
                }],
                root,
            };
            let blob = tree.to_dtb().unwrap();
            let theirs = match dtc.validate(&blob, &[]) {
                Ok(dts) | Err(DtcError::Checks { dts, .. }) => dts,
                Err(e) => panic!("{e}"),
            };
            prop_assert_eq!(tree.to_dts(), theirs);
            Ok(())
        })
        .unwrap();
}
