//! The sPAPR global interrupt number layout.
//!
//! Both controllers use the same number for the same device: XICS covers
//! `[XIRQ_BASE, XIRQ_BASE + nr_xirqs)` with its ICS, XIVE covers
//! `[0, XIRQ_BASE + nr_xirqs)` because it also has one IPI source per vCPU
//! below `XIRQ_BASE`.
//!
//! | Range | Use |
//! |---|---|
//! | 0x0000..0x0FFF | vCPU IPIs (XIVE only), LISN n = server n |
//! | 0x1000 | EPOW event source |
//! | 0x1001 | hot-plug event source |
//! | 0x1100..0x11FF | VIO devices |
//! | 0x1200..0x127F | PHB LSIs, `0x1200 + 4 * phb + pin` |
//! | 0x1300.. | dynamic MSI / MSI-X |

/// First IPI number (XIVE).
pub const IPI_BASE: u32 = 0;
/// Number of IPI numbers reserved below [`XIRQ_BASE`].
pub const NR_IPIS: u32 = 0x1000;
/// First external (device) interrupt number; also the XICS ICS offset
/// (`XICS_BUID << 12`).
pub const XIRQ_BASE: u32 = 0x1000;
/// EPOW (environmental and power warning) event source.
pub const EPOW: u32 = 0x1000;
/// Hot-plug event source.
pub const HOTPLUG: u32 = 0x1001;
/// First VIO device interrupt.
pub const VIO_BASE: u32 = 0x1100;
/// First PHB LSI.
pub const PCI_LSI_BASE: u32 = 0x1200;
/// LSI pins per PHB.
pub const PCI_LSI_PER_PHB: u32 = 4;
/// Number of PHBs that have LSI numbers reserved.
pub const MAX_PHBS: u32 = 32;
/// First dynamic MSI number.
pub const MSI_BASE: u32 = 0x1300;
/// External interrupt numbers of pseries-3.1 and later.
pub const NR_XIRQS: u32 = 0x1000;
/// External interrupt numbers of pseries-3.0 and older (legacy allocation).
pub const NR_XIRQS_LEGACY: u32 = 0x400;
/// Number of dynamic MSI numbers: `XIRQ_BASE + NR_XIRQS - MSI_BASE`.
pub const NR_MSIS: u32 = XIRQ_BASE + NR_XIRQS - MSI_BASE;

/// Whether a machine version uses the legacy (pre-3.1) IRQ allocation:
/// sequential numbers out of a 0x400-source ICS, and XICS only.
pub fn uses_legacy_allocation(major: u32, minor: u32) -> bool {
    (major, minor) <= (3, 0)
}

/// `nr_xirqs` of a machine version: 0x400 up to pseries-3.0, 0x1000 after.
pub fn nr_xirqs(major: u32, minor: u32) -> u32 {
    if uses_legacy_allocation(major, minor) {
        NR_XIRQS_LEGACY
    } else {
        NR_XIRQS
    }
}

/// Interrupt number of PHB `phb`'s LSI `pin` (0..4), or `None` when either is
/// out of range.
pub fn pci_lsi(phb: u32, pin: u32) -> Option<u32> {
    (phb < MAX_PHBS && pin < PCI_LSI_PER_PHB).then(|| PCI_LSI_BASE + phb * PCI_LSI_PER_PHB + pin)
}

/// Interrupt number of the VIO device at `reg` (pseries-3.1 and later).
///
/// QEMU-allocated regs (0x71000000 and up) use their low byte; libvirt's vty
/// regs (0x30000000 and up) use `0xf0 | ((reg >> 12) & 0xf)`; anything else
/// `(reg >> 12) & 0xff`. Two regs may map to one number; the collision then
/// surfaces as a claim error ("IRQ 4352 is not free"), as in QEMU.
pub fn vio_irq(reg: u32) -> u32 {
    let low = if reg >= 0x7100_0000 {
        reg & 0xff
    } else if reg >= 0x3000_0000 {
        0xf0 | ((reg >> 12) & 0xf)
    } else {
        (reg >> 12) & 0xff
    };
    VIO_BASE | low
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_qemu() {
        assert_eq!(NR_MSIS, 0xD00);
        assert_eq!(pci_lsi(0, 0), Some(0x1200));
        assert_eq!(pci_lsi(1, 3), Some(0x1207));
        assert_eq!(pci_lsi(31, 3), Some(0x127F));
        assert_eq!(pci_lsi(32, 0), None);
        assert_eq!(pci_lsi(0, 4), None);
    }

    #[test]
    fn nr_xirqs_per_version() {
        assert_eq!(nr_xirqs(2, 1), 0x400);
        assert_eq!(nr_xirqs(2, 12), 0x400);
        assert_eq!(nr_xirqs(3, 0), 0x400);
        assert_eq!(nr_xirqs(3, 1), 0x1000);
        assert_eq!(nr_xirqs(4, 2), 0x1000);
        assert_eq!(nr_xirqs(11, 0), 0x1000);
    }

    #[test]
    fn vio_numbers_as_qemu_7_2_assigns_them() {
        // Observed on QEMU 7.2 (reference/qemu-7.2/vio-reg-irq.tsv).
        assert_eq!(vio_irq(0x7100_0000), 0x1100);
        assert_eq!(vio_irq(0x7100_0001), 0x1101);
        assert_eq!(vio_irq(0x7100_0100), 0x1100); // collides, as in QEMU
        assert_eq!(vio_irq(0x3000_1000), 0x11f1);
        assert_eq!(vio_irq(0x0000_5000), 0x1105);
        let observed = [
            (0x7100_0011, 0x1111),
            (0x7100_00ff, 0x11ff),
            (0x7100_0101, 0x1101),
            (0x7100_0fff, 0x11ff),
            (0x7100_1011, 0x1111),
            (0x1000, 0x1101),
            (0x1001, 0x1101),
            (0x2000, 0x1102),
            (0x2011, 0x1102),
            (0x3000_0000, 0x11f0),
            (0x3000_0011, 0x11f0),
        ];
        for (reg, irq) in observed {
            assert_eq!(vio_irq(reg), irq, "reg {reg:#x}");
        }
        // These collide with the nvram at 0x71000000 (IRQ 0x1100) in QEMU 7.2.
        for reg in [0x7100_0200, 0x7100_1000, 0x7101_0000] {
            assert_eq!(vio_irq(reg), 0x1100);
        }
    }
}
