//! Registry entry, device tree, `info pic`.

mod common;

use common::Harness;
use spapr_irq::dt::{DtEvent, RecordingSink};

#[test]
fn the_registry_lists_xive() {
    let names: Vec<_> = spapr_irq::backends().iter().map(|b| b.name).collect();
    assert!(names.contains(&"xive"), "{names:?}");
    let b = spapr_irq::backend("xive").unwrap();
    assert_eq!(b.capability, "xive");
    assert_eq!(b.cas_ov5, 0x40);
    assert_eq!(b.cas_mode, "XIVE exploitation");
    assert_eq!(b.line_bit, 1);
    assert_eq!(b.kvm_device_type, Some(9));
    assert_eq!(b.order, 1);
    assert_eq!(spapr_irq::backend_for_cas(0x40).unwrap().name, "xive");
}

fn be32(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|c| c.to_be_bytes()).collect()
}

#[test]
fn device_tree_node_as_qemu_7_2() {
    let t = Harness::new(4, 4);
    let mut sink = RecordingSink::default();
    t.x.dt_node(&mut sink, 4, 0x1111).unwrap();
    let p = |n: &str, v: Vec<u8>| DtEvent::Property(n.into(), v);
    let s = |v: &str| {
        let mut b = v.as_bytes().to_vec();
        b.push(0);
        b
    };
    let expected = vec![
        DtEvent::Begin("interrupt-controller@60302031b0000".into()),
        p("device_type", s("power-ivpe")),
        p(
            "reg",
            be32(&[
                0x60302, 0x31b0000, 0, 0x10000, 0x60302, 0x31a0000, 0, 0x10000,
            ]),
        ),
        p("compatible", s("ibm,power-ivpe")),
        p("ibm,xive-eq-sizes", be32(&[0x10])),
        p("ibm,xive-lisn-ranges", be32(&[0, 4])),
        p("interrupt-controller", vec![]),
        p("#interrupt-cells", be32(&[2])),
        p("linux,phandle", be32(&[0x1111])),
        p("phandle", be32(&[0x1111])),
        DtEvent::End,
    ];
    assert_eq!(sink.events, expected);
    let mut root = RecordingSink::default();
    t.x.dt_root_properties(&mut root).unwrap();
    assert_eq!(
        root.events,
        vec![p("ibm,plat-res-int-priorities", be32(&[7, 0xf8]))]
    );
}

/// `info pic` of pseries-7.2,ic-mode=xive -smp 2 right after reset
/// (reference/qemu-7.2/info-pic-reset.md), minus the machine's
/// `irqchip: emulated` line.
const RESET_INFO: &str = "\
CPU[0000]:   QW   NSR CPPR IPB LSMFB ACK# INC AGE PIPR  W2
CPU[0000]: USER    00   00  00    00   00  00  00   00  00000000
CPU[0000]:   OS    00   00  00    ff   ff  00  ff   ff  80000400
CPU[0000]: POOL    00   00  00    00   00  00  00   00  00000000
CPU[0000]: PHYS    00   00  00    00   00  00  00   ff  00000000
CPU[0001]:   QW   NSR CPPR IPB LSMFB ACK# INC AGE PIPR  W2
CPU[0001]: USER    00   00  00    00   00  00  00   00  00000000
CPU[0001]:   OS    00   00  00    ff   ff  00  ff   ff  80000401
CPU[0001]: POOL    00   00  00    00   00  00  00   00  00000000
CPU[0001]: PHYS    00   00  00    00   00  00  00   ff  00000000
  LISN         PQ    EISN     CPU/PRIO EQ
  00000000 MSI -Q  M 00000000 
  00000001 MSI -Q  M 00000000 
  00001000 MSI -Q  M 00000000 
  00001001 MSI -Q  M 00000000 
  00001100 MSI -Q  M 00000000 
  00001101 MSI -Q  M 00000000 
  00001102 MSI -Q  M 00000000 
  00001103 MSI -Q  M 00000000 
  00001200 LSI -Q  M 00000000 
  00001201 LSI -Q  M 00000000 
  00001202 LSI -Q  M 00000000 
  00001203 LSI -Q  M 00000000 
";

#[test]
fn info_pic_after_reset_matches_qemu_7_2() {
    let t = Harness::new(2, 2);
    for irq in [0x1000, 0x1001, 0x1100, 0x1101, 0x1102, 0x1103] {
        t.x.claim_irq(irq, false).unwrap();
    }
    for irq in 0x1200..0x1204 {
        t.x.claim_irq(irq, true).unwrap();
    }
    let mut s = String::new();
    t.x.print_info(&mut s).unwrap();
    assert_eq!(s, RESET_INFO);
}

#[test]
fn info_pic_routed_source_shows_the_queue_window() {
    let t = Harness::new(2, 2);
    t.linux_queue(0);
    t.linux_source(0, 0, 0x10);
    t.trigger(0);
    let mut s = String::new();
    t.x.print_info(&mut s).unwrap();
    let line = s.lines().find(|l| l.starts_with("  00000000")).unwrap();
    let q = Harness::queue_page(0);
    assert_eq!(
        line,
        format!(
            "  00000000 MSI P-    00000010   0/6      1/16384 @{q:x} ^1 [ 00000000 00000000 00000000 00000000 80000010 ^00000000 ]"
        )
    );
    assert!(s.contains("CPU[0000]:   OS    80   ff  02    ff   ff  00  ff   06  80000400"));
}
