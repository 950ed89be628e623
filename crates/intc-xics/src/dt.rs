//! The XICS device-tree node and the per-CPU interrupt-server properties,
//! written through [`spapr_irq::DtSink`] so that any writer can be used.

use spapr_irq::{DtError, DtSink};

/// Name of the node (a root subnode, no unit address).
pub const NODE_NAME: &str = "interrupt-controller";
/// `device_type` of the node.
pub const DEVICE_TYPE: &str = "PowerPC-External-Interrupt-Presentation";
/// `compatible` of the node (Linux matches it case-insensitively).
pub const COMPATIBLE: &str = "IBM,ppc-xicp";

/// Writes the presentation controller node, properties in QEMU's order:
/// `device_type`, `compatible`, `interrupt-controller`,
/// `ibm,interrupt-server-ranges` = <0 nr_servers>, `#interrupt-cells` = <2>,
/// `linux,phandle`, `phandle`.
pub fn write_node(sink: &mut dyn DtSink, nr_servers: u32, phandle: u32) -> Result<(), DtError> {
    sink.begin_node(NODE_NAME)?;
    sink.property_string("device_type", DEVICE_TYPE)?;
    sink.property_string("compatible", COMPATIBLE)?;
    sink.property_null("interrupt-controller")?;
    sink.property_cells("ibm,interrupt-server-ranges", &[0, nr_servers])?;
    sink.property_u32("#interrupt-cells", 2)?;
    sink.property_phandle(phandle)?;
    sink.end_node()
}

/// Values of a CPU node's `ibm,ppc-interrupt-server#s`: one server number
/// per thread, `vcpu_id .. vcpu_id + threads`.
pub fn interrupt_servers(vcpu_id: u32, threads: u32) -> Vec<u32> {
    (0..threads).map(|t| vcpu_id.wrapping_add(t)).collect()
}

/// Values of a CPU node's `ibm,ppc-interrupt-gserver#s`: pairs
/// `<server, 0>` for each thread, as QEMU writes them.
pub fn interrupt_gservers(vcpu_id: u32, threads: u32) -> Vec<u32> {
    (0..threads)
        .flat_map(|t| [vcpu_id.wrapping_add(t), 0])
        .collect()
}

/// Writes both per-CPU properties into the current (CPU) node.
pub fn write_cpu_properties(
    sink: &mut dyn DtSink,
    vcpu_id: u32,
    threads: u32,
) -> Result<(), DtError> {
    sink.property_cells(
        "ibm,ppc-interrupt-server#s",
        &interrupt_servers(vcpu_id, threads),
    )?;
    sink.property_cells(
        "ibm,ppc-interrupt-gserver#s",
        &interrupt_gservers(vcpu_id, threads),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use spapr_irq::dt::{DtEvent, RecordingSink};

    #[test]
    fn node_matches_qemu() {
        let mut sink = RecordingSink::default();
        write_node(&mut sink, 8, 0x1111).unwrap();
        let names: Vec<_> = sink
            .events
            .iter()
            .map(|e| match e {
                DtEvent::Begin(n) => format!("begin {n}"),
                DtEvent::End => "end".into(),
                DtEvent::Property(n, _) => n.clone(),
            })
            .collect();
        assert_eq!(
            names,
            [
                "begin interrupt-controller",
                "device_type",
                "compatible",
                "interrupt-controller",
                "ibm,interrupt-server-ranges",
                "#interrupt-cells",
                "linux,phandle",
                "phandle",
                "end"
            ]
        );
        assert_eq!(
            sink.property("device_type").unwrap(),
            b"PowerPC-External-Interrupt-Presentation\0"
        );
        assert_eq!(sink.property("compatible").unwrap(), b"IBM,ppc-xicp\0");
        assert_eq!(sink.property("interrupt-controller").unwrap(), b"");
        assert_eq!(
            sink.property("ibm,interrupt-server-ranges").unwrap(),
            [0, 0, 0, 0, 0, 0, 0, 8]
        );
        assert_eq!(sink.property("#interrupt-cells").unwrap(), [0, 0, 0, 2]);
        assert_eq!(sink.property("phandle").unwrap(), [0, 0, 0x11, 0x11]);
        assert_eq!(sink.property("linux,phandle").unwrap(), [0, 0, 0x11, 0x11]);
    }

    #[test]
    fn cpu_properties() {
        assert_eq!(interrupt_servers(8, 4), [8, 9, 10, 11]);
        assert_eq!(interrupt_gservers(2, 2), [2, 0, 3, 0]);
        let mut sink = RecordingSink::default();
        write_cpu_properties(&mut sink, 1, 1).unwrap();
        assert_eq!(
            sink.property("ibm,ppc-interrupt-server#s").unwrap(),
            [0, 0, 0, 1]
        );
        assert_eq!(
            sink.property("ibm,ppc-interrupt-gserver#s").unwrap(),
            [0, 0, 0, 1, 0, 0, 0, 0]
        );
    }
}
