//! The `spapr_irq::DtSink` implementation: a controller-shaped writer that
//! only knows the trait fills the machine's builder.
#![cfg(feature = "spapr-irq")]

use fdt::{Fdt, FdtBuilder};
use spapr_irq::{DtError, DtSink};

/// Writes a XICS-like node through the trait object, as a controller's
/// `dt_node` does.
fn controller_node(sink: &mut dyn DtSink, nr_servers: u32, phandle: u32) -> Result<(), DtError> {
    sink.begin_node("interrupt-controller")?;
    sink.property_string("device_type", "PowerPC-External-Interrupt-Presentation")?;
    sink.property_string("compatible", "IBM,ppc-xicp")?;
    sink.property_null("interrupt-controller")?;
    sink.property_cells("ibm,interrupt-server-ranges", &[0, nr_servers])?;
    sink.property_u32("#interrupt-cells", 2)?;
    sink.property_u64s("test,u64s", &[1 << 33])?;
    sink.property("test,raw", &[9])?;
    sink.property_phandle(phandle)?;
    sink.end_node()
}

#[test]
fn a_controller_writes_through_the_trait() {
    let mut b = FdtBuilder::new();
    b.begin_node("").unwrap();
    let ph = b.alloc_phandle().unwrap();
    controller_node(&mut b, 4, ph).unwrap();
    b.end_node().unwrap();
    let t = Fdt::from_dtb(&b.finish_dtb().unwrap()).unwrap();
    let n = t.node("/interrupt-controller").unwrap();
    assert_eq!(n.get_str("compatible").unwrap(), "IBM,ppc-xicp");
    assert_eq!(
        n.get_cells("ibm,interrupt-server-ranges").unwrap(),
        vec![0, 4]
    );
    assert_eq!(n.get_u64("test,u64s").unwrap(), 1 << 33);
    assert_eq!(n.get_bytes("test,raw").unwrap(), &[9]);
    assert_eq!(n.get_u32("phandle").unwrap(), ph);
    assert_eq!(n.get_u32("linux,phandle").unwrap(), ph);
}

#[test]
fn builder_errors_reach_the_controller_as_dt_errors() {
    let mut b = FdtBuilder::new();
    b.begin_node("").unwrap();
    b.begin_node("x").unwrap();
    b.property_phandle(0x1111).unwrap();
    b.end_node().unwrap();
    let sink: &mut dyn DtSink = &mut b;
    let err = controller_node(sink, 4, 0x1111).unwrap_err();
    assert_eq!(err, DtError("phandle 0x1111 is already used".into()));
    // The failed node was left open by the controller; the sink reports
    // the misuse that follows rather than panicking.
    assert!(sink
        .property_string("bad", "a\0b")
        .unwrap_err()
        .0
        .contains("NUL"));
    assert!(sink
        .begin_node("1bad")
        .unwrap_err()
        .0
        .contains("invalid node name"));
}
