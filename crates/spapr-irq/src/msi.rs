//! Interrupt number allocation: the MSI bitmap of pseries-3.1 and later, and
//! the sequential "legacy" allocation of pseries-3.0 and older.

use crate::bitmap::Bitmap;
use crate::error::IrqError;
use crate::numbering::{MSI_BASE, NR_MSIS};

/// What kind of PCI message interrupts a block is for; it decides the
/// alignment of the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsiKind {
    /// Multiple-message MSI: the function modifies the low bits of the
    /// message data to pick a vector, so a block of N (a power of two, at
    /// most 32) must start on a multiple of N.
    Msi,
    /// MSI-X: each vector has its own table entry, no alignment needed.
    MsiX,
}

/// The dynamic MSI allocator of pseries-3.1 and later: a bitmap of
/// [`NR_MSIS`] numbers starting at [`MSI_BASE`], searched first-fit.
///
/// QEMU passes a C `bool` "align" that it decrements into an alignment mask,
/// which gives MSI blocks no alignment and MSI-X blocks a 2-alignment: the
/// reverse of what the PCI functions need. We do not copy that bug: a
/// multi-vector MSI block is aligned to its power-of-two size and MSI-X is
/// unaligned. The numbers differ from QEMU's only for multi-vector MSI
/// blocks that QEMU would have misaligned, and for MSI-X blocks after an
/// odd-sized allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsiAllocator {
    map: Bitmap,
}

impl Default for MsiAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl MsiAllocator {
    /// An allocator with every MSI number free.
    pub fn new() -> Self {
        Self {
            map: Bitmap::new(NR_MSIS),
        }
    }

    /// Allocates `num` consecutive numbers for one PCI function and returns
    /// the first.
    pub fn alloc(&mut self, num: u32, kind: MsiKind) -> Result<u32, IrqError> {
        let align = match kind {
            MsiKind::Msi => {
                if !num.is_power_of_two() || num > 32 {
                    return Err(IrqError::BadBlockSize(num));
                }
                num
            }
            MsiKind::MsiX => 1,
        };
        let start = self
            .map
            .find_clear_run(num, align)
            .ok_or(IrqError::NoFreeBlock(num))?;
        self.map.set_range(start, num, true);
        Ok(MSI_BASE + start)
    }

    /// Frees `num` numbers starting at `irq`; numbers outside the MSI range
    /// are ignored, as QEMU does.
    pub fn free(&mut self, irq: u32, num: u32) {
        // The part of [irq, irq + num) inside the MSI range.
        let first = irq.max(MSI_BASE);
        let end = irq.saturating_add(num).min(MSI_BASE + NR_MSIS);
        if first < end {
            self.map.set_range(first - MSI_BASE, end - first, false);
        }
    }

    /// Whether `irq` is currently allocated.
    pub fn is_allocated(&self, irq: u32) -> bool {
        irq.checked_sub(MSI_BASE)
            .filter(|&i| i < NR_MSIS)
            .is_some_and(|i| self.map.get(i))
    }

    /// Whether nothing is allocated (a machine reset expects this).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The bitmap as 64-bit words, bit `i` of the map being bit `i % 64` of
    /// word `i / 64`: the migration form (QEMU's `spapr_irq_map`).
    pub fn to_words(&self) -> Vec<u64> {
        self.map.words().to_vec()
    }

    /// Rebuilds an allocator from [`MsiAllocator::to_words`]; `None` if the
    /// word count is wrong.
    pub fn from_words(words: &[u64]) -> Option<Self> {
        Some(Self {
            map: Bitmap::from_words(words, NR_MSIS)?,
        })
    }
}

/// The allocation of pseries-3.0 and older: every device takes the first
/// free source of the `nr_xirqs`-source ICS at creation time, so numbers
/// depend on creation order, and MSIs take a linear first-fit scan.
///
/// It mirrors claims: the machine marks every number it claims or frees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyAllocator {
    base: u32,
    map: Bitmap,
}

impl LegacyAllocator {
    /// Covers `[base, base + nr_irqs)`.
    pub fn new(base: u32, nr_irqs: u32) -> Self {
        Self {
            base,
            map: Bitmap::new(nr_irqs),
        }
    }

    fn index(&self, irq: u32) -> Result<u32, IrqError> {
        irq.checked_sub(self.base)
            .filter(|&i| i < self.map.len())
            .ok_or(IrqError::OutOfRange {
                irq,
                first: self.base,
                end: self.base + self.map.len(),
            })
    }

    /// The first free number (QEMU's `spapr_irq_findone`), not yet marked.
    pub fn find_one(&self) -> Result<u32, IrqError> {
        self.find(1, false)
    }

    /// The first run of `num` free numbers (QEMU's `spapr_irq_find`); with
    /// `align`, `num` must be 1, 2, 4, 8, 16 or 32 and the run starts on a
    /// multiple of `num`. Not yet marked.
    pub fn find(&self, num: u32, align: bool) -> Result<u32, IrqError> {
        let step = if align {
            if !num.is_power_of_two() || num > 32 {
                return Err(IrqError::BadBlockSize(num));
            }
            num
        } else {
            1
        };
        self.map
            .find_clear_run(num, step)
            .map(|i| self.base + i)
            .ok_or(IrqError::NoFreeBlock(num))
    }

    /// Marks `irq` claimed; fails with "IRQ %d is not free" if it was.
    pub fn mark_claimed(&mut self, irq: u32) -> Result<(), IrqError> {
        let i = self.index(irq)?;
        if self.map.get(i) {
            return Err(IrqError::NotFree(irq));
        }
        self.map.set(i, true);
        Ok(())
    }

    /// Marks `irq` free again.
    pub fn mark_free(&mut self, irq: u32) {
        if let Ok(i) = self.index(irq) {
            self.map.set(i, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msi_blocks_are_aligned_to_their_size() {
        let mut a = MsiAllocator::new();
        assert_eq!(a.alloc(1, MsiKind::Msi).unwrap(), 0x1300);
        // A 4-vector MSI block may not start at 0x1301.
        assert_eq!(a.alloc(4, MsiKind::Msi).unwrap(), 0x1304);
        // MSI-X fills the hole.
        assert_eq!(a.alloc(3, MsiKind::MsiX).unwrap(), 0x1301);
        assert_eq!(a.alloc(32, MsiKind::Msi).unwrap(), 0x1320);
        assert_eq!(a.alloc(2, MsiKind::MsiX).unwrap(), 0x1308);
    }

    #[test]
    fn msi_block_size_must_be_a_power_of_two() {
        let mut a = MsiAllocator::new();
        assert_eq!(a.alloc(3, MsiKind::Msi), Err(IrqError::BadBlockSize(3)));
        assert_eq!(a.alloc(64, MsiKind::Msi), Err(IrqError::BadBlockSize(64)));
        assert_eq!(a.alloc(0, MsiKind::Msi), Err(IrqError::BadBlockSize(0)));
        assert!(a.is_empty());
    }

    #[test]
    fn exhaustion_uses_qemu_words() {
        let mut a = MsiAllocator::new();
        assert_eq!(a.alloc(NR_MSIS, MsiKind::MsiX).unwrap(), MSI_BASE);
        let err = a.alloc(1, MsiKind::MsiX).unwrap_err();
        assert_eq!(err.to_string(), "can't find a free 1-IRQ block");
        a.free(MSI_BASE + 10, 2);
        assert_eq!(a.alloc(2, MsiKind::Msi).unwrap(), MSI_BASE + 10);
        let mut b = MsiAllocator::new();
        assert_eq!(
            b.alloc(NR_MSIS + 1, MsiKind::MsiX).unwrap_err().to_string(),
            format!("can't find a free {}-IRQ block", NR_MSIS + 1)
        );
    }

    #[test]
    fn free_ignores_numbers_outside_the_range() {
        let mut a = MsiAllocator::new();
        a.alloc(2, MsiKind::MsiX).unwrap();
        a.free(0x1000, 0x300);
        assert!(a.is_allocated(0x1300));
        a.free(0x12FF, 3);
        assert!(a.is_empty());
        a.free(u32::MAX, 5);
    }

    #[test]
    fn words_round_trip_and_reject_garbage() {
        let mut a = MsiAllocator::new();
        a.alloc(5, MsiKind::MsiX).unwrap();
        a.alloc(8, MsiKind::Msi).unwrap();
        let w = a.to_words();
        assert_eq!(MsiAllocator::from_words(&w), Some(a));
        assert_eq!(MsiAllocator::from_words(&w[1..]), None);
        assert_eq!(
            MsiAllocator::from_words(&[w.as_slice(), &[0]].concat()),
            None
        );
    }

    #[test]
    fn legacy_allocation_is_sequential() {
        let mut l = LegacyAllocator::new(0x1000, 0x400);
        for expect in [0x1000, 0x1001, 0x1002] {
            let irq = l.find_one().unwrap();
            assert_eq!(irq, expect);
            l.mark_claimed(irq).unwrap();
        }
        assert_eq!(l.find(4, true).unwrap(), 0x1004);
        assert_eq!(l.find(3, false).unwrap(), 0x1003);
        assert_eq!(l.find(3, true), Err(IrqError::BadBlockSize(3)));
        assert_eq!(
            l.mark_claimed(0x1001).unwrap_err().to_string(),
            "IRQ 4097 is not free"
        );
        l.mark_free(0x1001);
        assert_eq!(l.find_one().unwrap(), 0x1001);
        assert!(matches!(
            l.mark_claimed(0x1400),
            Err(IrqError::OutOfRange { .. })
        ));
    }
}
