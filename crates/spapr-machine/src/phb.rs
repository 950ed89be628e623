//! The PCI host bridge every pseries machine has (`spapr-pci-host-bridge`
//! index 0), with no device behind it.
//!
//! It exists so that the interrupt layout and the device tree are QEMU's:
//! its four LSIs (0x1200..0x1203) are claimed, the `pci@800000020000000`
//! node carries the interrupt map guests read to find them, and the MSI
//! budget `ibm,pe-total-#msi`. Config space and MSI RTAS calls answer as
//! for an empty bus (no function at any address). DMA windows (TCE
//! tables, dynamic DMA windows) are not modelled, so the `ibm,dma-window`
//! and `ibm,ddw-*` properties that QEMU writes are left out.

use fdt::{FdtBuilder, FdtError};
use spapr_irq::numbering::{pci_lsi, NR_MSIS, PCI_LSI_PER_PHB};
use spapr_irq::papr::rtas;

use crate::irq::{IrqFrontEnd, PHANDLE_INTC};

/// BUID of PHB 0 (`SPAPR_PCI_BASE_BUID`).
pub const PHB0_BUID: u64 = 0x0800_0000_2000_0000;

/// RTAS calls of the PHB: (name, token).
pub const RTAS_CALLS: &[(&str, u32)] = &[
    ("read-pci-config", 0x2014),
    ("write-pci-config", 0x2015),
    ("ibm,read-pci-config", 0x2016),
    ("ibm,write-pci-config", 0x2017),
    ("ibm,query-interrupt-source-number", 0x2018),
    ("ibm,change-msi", 0x2019),
];

/// A PHB with an empty bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phb {
    /// Its BUID (unit address).
    pub buid: u64,
    /// Interrupt numbers of INTA..INTD.
    pub lsis: [u32; PCI_LSI_PER_PHB as usize],
    /// MSIs the guest may ask for (`ibm,pe-total-#msi`): the dynamic MSI
    /// range, or the whole ICS on legacy machines.
    pub total_msi: u32,
}

impl Phb {
    /// PHB 0, claiming its LSIs on the front end (fixed numbers, or the
    /// next free ones on legacy machines).
    pub fn new(irq: &IrqFrontEnd) -> Result<Self, spapr_irq::IrqError> {
        let mut lsis = [0; PCI_LSI_PER_PHB as usize];
        for (pin, l) in lsis.iter_mut().enumerate() {
            let fixed = pci_lsi(0, pin as u32).expect("PHB 0 has 4 LSIs");
            *l = irq.claim_device(fixed, true)?;
        }
        let total_msi = if irq.is_legacy() {
            irq.nr_xirqs()
        } else {
            NR_MSIS
        };
        Ok(Self {
            buid: PHB0_BUID,
            lsis,
            total_msi,
        })
    }

    /// Writes the `pci@<buid>` node.
    pub fn dt(&self, b: &mut FdtBuilder) -> Result<(), FdtError> {
        b.begin_node(&format!("pci@{:x}", self.buid))?;
        b.property_string("device_type", "pci")?;
        b.property_string("compatible", "IBM,Logical_PHB")?;
        b.property_u32("#address-cells", 3)?;
        b.property_u32("#size-cells", 2)?;
        b.property_u32("#interrupt-cells", 1)?;
        b.property_null("used-by-rtas")?;
        b.property_cells("bus-range", &[0, 0xff])?;
        b.property_cells(
            "ranges",
            &[
                0x0100_0000,
                0,
                0,
                0x2000,
                0,
                0,
                0x1_0000, // I/O
                0x0200_0000,
                0,
                0x8000_0000,
                0x2000,
                0x8000_0000,
                0,
                0x8000_0000, // 32-bit MMIO
                0x0300_0000,
                0x2100,
                0,
                0x2100,
                0,
                0x100,
                0, // 64-bit MMIO
            ],
        )?;
        b.property_cells("reg", &[(self.buid >> 32) as u32, self.buid as u32, 0, 0])?;
        b.property_u32("ibm,pci-config-space-type", 1)?;
        b.property_u32("ibm,pe-total-#msi", self.total_msi)?;
        b.property_cells("interrupt-map-mask", &[0xf800, 0, 0, 0xffff_ffff])?;
        // Slot s, pin p (1..4) -> LSI (s + p - 1) mod 4, the usual swizzle.
        let mut map = Vec::with_capacity(32 * 4 * 7);
        for slot in 0..32u32 {
            for pin in 1..=4u32 {
                let lsi = self.lsis[((slot + pin - 1) % 4) as usize];
                map.extend_from_slice(&[slot << 11, 0, 0, pin, PHANDLE_INTC, lsi, 1]);
            }
        }
        b.property_cells("interrupt-map", &map)?;
        b.property_u32("qemu,phb-enumerated", 1)?;
        b.end_node()
    }

    /// Serves a PHB RTAS call. No function exists behind the bridge, so
    /// every config access and MSI request fails with a hardware error
    /// after the argument checks QEMU makes.
    pub fn rtas(&self, token: u32, args: &[u32], rets: &mut [u32]) {
        let (nargs, nret) = match token {
            0x2014 => (2, 2),
            0x2015 => (3, 1),
            0x2016 => (4, 2),
            0x2017 => (5, 1),
            0x2018 => (4, 3),
            _ => (5, 4),
        };
        let st = |rets: &mut [u32], v: i32| {
            if let Some(r) = rets.first_mut() {
                *r = v as u32;
            }
        };
        // ibm,change-msi takes 4 or 5 arguments (the 5th is the sequence).
        let nargs_ok = args.len() == nargs || (token == 0x2019 && args.len() == 4);
        if !nargs_ok || rets.len() != nret {
            st(rets, rtas::PARAMETER_ERROR);
            return;
        }
        if matches!(token, 0x2016..=0x2019) {
            let buid = (u64::from(args[1]) << 32) | u64::from(args[2]);
            if buid != self.buid {
                st(rets, rtas::PARAMETER_ERROR);
                return;
            }
        }
        st(rets, rtas::HW_ERROR);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phb() -> Phb {
        Phb {
            buid: PHB0_BUID,
            lsis: [0x1200, 0x1201, 0x1202, 0x1203],
            total_msi: NR_MSIS,
        }
    }

    #[test]
    fn empty_bus_answers_hardware_error_after_argument_checks() {
        let p = phb();
        let mut rets = [0u32; 2];
        p.rtas(0x2014, &[0, 4], &mut rets);
        assert_eq!(rets[0] as i32, rtas::HW_ERROR);
        p.rtas(0x2016, &[0, 0x0800_0000, 0x2000_0000, 4], &mut rets);
        assert_eq!(rets[0] as i32, rtas::HW_ERROR);
        p.rtas(0x2016, &[0, 1, 2, 4], &mut rets);
        assert_eq!(rets[0] as i32, rtas::PARAMETER_ERROR);
        let mut one = [0u32; 1];
        p.rtas(0x2014, &[0, 4], &mut one);
        assert_eq!(one[0] as i32, rtas::PARAMETER_ERROR);
    }

    #[test]
    fn interrupt_map_swizzles_like_qemu() {
        let mut b = FdtBuilder::new();
        b.begin_node("").unwrap();
        phb().dt(&mut b).unwrap();
        b.end_node().unwrap();
        let tree = b.finish().unwrap();
        let node = tree.node("/pci@800000020000000").unwrap();
        let map = node.get_cells("interrupt-map").unwrap();
        assert_eq!(map.len(), 32 * 4 * 7);
        assert_eq!(&map[..7], &[0, 0, 0, 1, 0x1111, 0x1200, 1]);
        // Slot 1, INTA -> 0x1201.
        assert_eq!(&map[28..35], &[0x800, 0, 0, 1, 0x1111, 0x1201, 1]);
    }
}
