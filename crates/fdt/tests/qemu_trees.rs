//! QEMU 7.2's own pseries trees (dumped with `dumpdtb=`, decompiled by dtc,
//! copied from the project's reference data): the reader, the writer, the
//! dts rendering and the diff all work on real trees.
//!
//! The dts files are turned back into blobs by dtc, so these tests skip
//! without dtc (and fail in CI).

use fdt::{diff, diff_nodes, DiffOptions, Difference, Dtc, Fdt, FdtBuilder};

const XICS: &str = include_str!("data/qemu-7.2/pseries-7.2-xics-nodefaults.dts");
const XIVE: &str = include_str!("data/qemu-7.2/pseries-7.2-xive-nodefaults.dts");
const DUAL: &str = include_str!("data/qemu-7.2/pseries-7.2-dual-nodefaults.dts");
const XIVE_DEVICES: &str = include_str!("data/qemu-7.2/pseries-7.2-xive-devices.dts");

/// QEMU's trees trip this dtc check (event-sources and the XICS/XIVE node
/// are interrupt providers without `#address-cells`).
const QEMU_ALLOWED: &[&str] = &["interrupt_provider"];

fn load(dtc: &Dtc, dts: &str) -> Fdt {
    dtc.load_dts(dts).unwrap()
}

#[test]
fn render_and_rewrite_match_qemu_byte_for_byte() {
    let Some(dtc) = Dtc::for_tests() else { return };
    for dts in [XICS, XIVE, DUAL, XIVE_DEVICES] {
        let tree = load(&dtc, dts);
        assert_eq!(tree.to_dts(), dts, "reader + to_dts");
        let blob = tree.to_dtb().unwrap();
        assert_eq!(
            dtc.validate(&blob, QEMU_ALLOWED).unwrap(),
            dts,
            "writer + dtc"
        );
        // Without the allowance, dtc's finding is a failure.
        assert!(matches!(
            dtc.validate(&blob, &[]),
            Err(fdt::DtcError::Checks { findings, .. })
                if findings.iter().all(|f| f.check == "interrupt_provider")
        ));
    }
}

#[test]
fn typed_queries_on_qemu_trees() {
    let Some(dtc) = Dtc::for_tests() else { return };
    let xics = load(&dtc, XICS);
    let xive = load(&dtc, XIVE);

    assert_eq!(xics.root.get_str("compatible").unwrap(), "qemu,pseries");
    let cpu = xics.node("/cpus/PowerPC,POWER9@0").unwrap();
    assert_eq!(
        cpu.get_cells("ibm,ppc-interrupt-server#s").unwrap(),
        vec![0]
    );
    assert_eq!(
        cpu.get_cells("ibm,ppc-interrupt-gserver#s").unwrap(),
        vec![0, 0]
    );
    assert_eq!(cpu.get_u32("timebase-frequency").unwrap(), 512_000_000);
    assert!(cpu.has_property("64-bit"));
    assert_eq!(xics.node("/cpus").unwrap().children.len(), 4);
    assert_eq!(xics.reg("/cpus/PowerPC,POWER9@3").unwrap(), vec![(3, 0)]);
    assert_eq!(xics.reg("/memory@0").unwrap(), vec![(0, 0x2000_0000)]);
    assert_eq!(
        xics.node("/rtas")
            .unwrap()
            .get_strings("ibm,hypertas-functions")
            .unwrap()[..2],
        ["hcall-pft", "hcall-term"]
    );

    let icp = xics.node("/interrupt-controller").unwrap();
    assert_eq!(icp.get_str("compatible").unwrap(), "IBM,ppc-xicp");
    assert_eq!(
        icp.get_cells("ibm,interrupt-server-ranges").unwrap(),
        vec![0, 4]
    );
    assert_eq!(icp.get_u32("phandle").unwrap(), 0x1111);

    let ivpe = xive.node("/interrupt-controller").unwrap();
    assert_eq!(ivpe.name, "interrupt-controller@60302031b0000");
    assert_eq!(ivpe.get_str("compatible").unwrap(), "ibm,power-ivpe");
    assert_eq!(ivpe.get_cells("ibm,xive-lisn-ranges").unwrap(), vec![0, 4]);
    assert_eq!(
        xive.reg("/interrupt-controller@60302031b0000").unwrap(),
        vec![
            (0x0006_0302_031b_0000, 0x10000),
            (0x0006_0302_031a_0000, 0x10000)
        ]
    );
    assert_eq!(
        xive.root.get_cells("ibm,plat-res-int-priorities").unwrap(),
        vec![7, 0xf8]
    );
}

#[test]
fn xics_and_dual_differ_only_in_platform_support() {
    let Some(dtc) = Dtc::for_tests() else { return };
    let (xics, dual) = (load(&dtc, XICS), load(&dtc, DUAL));
    let opts = DiffOptions::new().ignore_property("rng-seed");
    let d = diff(&xics, &dual, &opts);
    assert_eq!(
        d.differences,
        vec![Difference::Value {
            path: "/chosen".into(),
            name: "ibm,arch-vec-5-platform-support".into(),
            expected: vec![0x17, 0x00, 0x18, 0xc0, 0x19, 0x00, 0x1a, 0x40],
            actual: vec![0x17, 0x80, 0x18, 0xc0, 0x19, 0x00, 0x1a, 0x40],
        }],
        "{d}"
    );
    assert_eq!(
        d.to_string(),
        "1 difference(s) (- expected only, + actual only, ~ changed):\n\
         ~ /chosen: ibm,arch-vec-5-platform-support\n    \
         expected <0x170018c0 0x19001a40>\n    actual   <0x178018c0 0x19001a40>\n"
    );
    // Without ignoring the random seed, it shows up too.
    assert_eq!(diff(&xics, &dual, &DiffOptions::new()).differences.len(), 2);
    assert!(diff(&xics, &xics, &DiffOptions::new()).is_empty());
}

#[test]
fn xics_and_xive_differences_are_the_interrupt_controller() {
    let Some(dtc) = Dtc::for_tests() else { return };
    let (xics, xive) = (load(&dtc, XICS), load(&dtc, XIVE));
    let opts = DiffOptions::new()
        .ignore_property_at("/chosen", "rng-seed")
        .ignore_property_at("/chosen", "ibm,arch-vec-5-platform-support");
    let d = diff(&xics, &xive, &opts);
    let shown: Vec<String> = d
        .differences
        .iter()
        .map(|x| x.to_string().lines().next().unwrap().to_owned())
        .collect();
    assert_eq!(
        shown,
        [
            "+ /: ibm,plat-res-int-priorities = <0x07 0xf8> (unexpected)",
            "- /interrupt-controller (node missing)",
            "+ /interrupt-controller@60302031b0000 (unexpected node)",
            // XICS's RTAS calls are only registered in XICS mode.
            "- /rtas: ibm,int-on = <0x200d> (missing)",
            "- /rtas: ibm,int-off = <0x200c> (missing)",
            "- /rtas: ibm,get-xive = <0x200b> (missing)",
            "- /rtas: ibm,set-xive = <0x200a> (missing)",
        ],
        "{d}"
    );
    let mut opts = opts
        .ignore_property("ibm,plat-res-int-priorities")
        .ignore_node("/interrupt-controller")
        .ignore_node("/interrupt-controller@60302031b0000");
    for call in ["ibm,int-on", "ibm,int-off", "ibm,get-xive", "ibm,set-xive"] {
        opts = opts.ignore_property_at("/rtas", call);
    }
    assert!(diff(&xics, &xive, &opts).is_empty());
}

#[test]
fn a_built_xics_node_matches_qemus() {
    let Some(dtc) = Dtc::for_tests() else { return };
    let xics = load(&dtc, XICS);
    // Written in QEMU's call order; QEMU's libfdt calls put later properties
    // first, which the diff does not care about.
    let mut b = FdtBuilder::new();
    b.begin_node("").unwrap();
    b.node("interrupt-controller", |b| {
        b.property_string("device_type", "PowerPC-External-Interrupt-Presentation")?;
        b.property_string("compatible", "IBM,ppc-xicp")?;
        b.property_null("interrupt-controller")?;
        b.property_cells("ibm,interrupt-server-ranges", &[0, 4])?;
        b.property_u32("#interrupt-cells", 2)?;
        b.property_phandle(0x1111)
    })
    .unwrap();
    b.end_node().unwrap();
    let ours = b.finish().unwrap();
    let path = "/interrupt-controller";
    let d = diff_nodes(
        path,
        xics.node(path).unwrap(),
        ours.node(path).unwrap(),
        &DiffOptions::new(),
    );
    assert!(d.is_empty(), "{d}");
    // A wrong server range is reported with both values.
    let mut wrong = ours.clone();
    wrong.root.children[0].properties[3].value = vec![0, 0, 0, 0, 0, 0, 0, 0x20];
    let d = diff_nodes(
        path,
        xics.node(path).unwrap(),
        wrong.node(path).unwrap(),
        &DiffOptions::new(),
    );
    assert_eq!(
        d.to_string(),
        "1 difference(s) (- expected only, + actual only, ~ changed):\n\
         ~ /interrupt-controller: ibm,interrupt-server-ranges\n    \
         expected <0x00 0x04>\n    actual   <0x00 0x20>\n"
    );
}
