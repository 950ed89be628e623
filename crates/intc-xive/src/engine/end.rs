//! Event Notification Descriptors and their event queues in guest memory.
//!
//! Each END is eight 32-bit words behind its own lock (padded to a cache
//! line), so that the queue index, the generation bit and the ESn/ESe bits
//! of one queue change atomically with the write into the queue, while
//! queues of different vCPUs never share a lock or a cache line.
//!
//! Queue entries are 32-bit big-endian: `generation << 31 | EISN`. The
//! index wraps at `1 << (qsize + 10)` entries and the generation bit flips
//! on each wrap.

use std::sync::atomic::Ordering;

use parking_lot::{Mutex, MutexGuard};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::engine::regs::{end, get_field32, set_field32};

/// One END: words w0..w7, as numbers (big-endian in the architecture).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct End {
    /// Words 0 to 7.
    pub w: [u32; 8],
}

/// Why an event could not be written into its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("XIVE: failed to write END data @{0:#x}")]
pub struct EnqueueError(pub u64);

impl End {
    /// The reset state: everything zero except ESn and ESe "off" (Q set).
    pub const RESET: End = End {
        w: [0, end::W1_ESE_Q | end::W1_ESN_Q, 0, 0, 0, 0, 0, 0],
    };

    /// w0 VALID.
    pub fn is_valid(&self) -> bool {
        self.w[0] & end::W0_VALID != 0
    }
    /// w0 ENQUEUE.
    pub fn is_enqueue(&self) -> bool {
        self.w[0] & end::W0_ENQUEUE != 0
    }
    /// w0 UCOND_NOTIFY ("always notify").
    pub fn is_notify(&self) -> bool {
        self.w[0] & end::W0_UCOND_NOTIFY != 0
    }
    /// w0 BACKLOG.
    pub fn is_backlog(&self) -> bool {
        self.w[0] & end::W0_BACKLOG != 0
    }
    /// w0 ESCALATE_CTL.
    pub fn is_escalate(&self) -> bool {
        self.w[0] & end::W0_ESCALATE_CTL != 0
    }
    /// w0 UNCOND_ESCALATE.
    pub fn is_uncond_escalation(&self) -> bool {
        self.w[0] & end::W0_UNCOND_ESCALATE != 0
    }
    /// w0 SILENT_ESCALATE.
    pub fn is_silent_escalation(&self) -> bool {
        self.w[0] & end::W0_SILENT_ESCALATE != 0
    }
    /// w0 SW0 (firmware).
    pub fn is_firmware(&self) -> bool {
        self.w[0] & end::W0_SW0 != 0
    }
    /// Queue guest-physical address.
    pub fn qaddr(&self) -> u64 {
        (u64::from(self.w[2] & end::W2_OP_DESC_HI) << 32) | u64::from(self.w[3])
    }
    /// Queue size field (log2(bytes) - 12).
    pub fn qsize(&self) -> u32 {
        get_field32(end::W0_QSIZE, self.w[0])
    }
    /// Number of queue entries.
    pub fn qentries(&self) -> u32 {
        1 << (self.qsize() + 10)
    }
    /// Queue index (next entry written).
    pub fn qindex(&self) -> u32 {
        get_field32(end::W1_PAGE_OFF, self.w[1])
    }
    /// Generation bit written with the next entry.
    pub fn qgen(&self) -> u32 {
        get_field32(end::W1_GENERATION, self.w[1])
    }
    /// w6 format bit.
    pub fn format(&self) -> u32 {
        get_field32(end::W6_FORMAT_BIT, self.w[6])
    }
    /// NVT block (w6).
    pub fn nvt_block(&self) -> u8 {
        get_field32(end::W6_NVT_BLOCK, self.w[6]) as u8
    }
    /// NVT index (w6).
    pub fn nvt_index(&self) -> u32 {
        get_field32(end::W6_NVT_INDEX, self.w[6])
    }
    /// Priority (w7, format 0).
    pub fn priority(&self) -> u8 {
        get_field32(end::W7_F0_PRIORITY, self.w[7]) as u8
    }
    /// Ignore bit (w7, format 0).
    pub fn ignore(&self) -> bool {
        self.w[7] & end::W7_F0_IGNORE != 0
    }
    /// Logical server id (w7, format 1).
    pub fn log_server_id(&self) -> u32 {
        get_field32(end::W7_F1_LOG_SERVER_ID, self.w[7])
    }

    /// Builds a valid END with a queue of `1 << qshift` bytes at `qaddr`
    /// notifying NVT `nvt_block/nvt_index` at `priority`; `always_notify`
    /// sets UCOND_NOTIFY. The generation starts at 1, the index at 0, the
    /// ESn and ESe bits at 00.
    pub fn with_queue(
        qaddr: u64,
        qshift: u32,
        nvt_block: u8,
        nvt_index: u32,
        priority: u8,
        always_notify: bool,
    ) -> Self {
        let mut e = End::default();
        e.w[0] = end::W0_VALID | end::W0_ENQUEUE;
        e.w[0] = set_field32(end::W0_QSIZE, e.w[0], qshift.saturating_sub(12));
        if always_notify {
            e.w[0] |= end::W0_UCOND_NOTIFY;
        }
        e.w[1] = end::W1_GENERATION;
        e.w[2] = ((qaddr >> 32) as u32) & end::W2_OP_DESC_HI;
        e.w[3] = qaddr as u32;
        e.w[6] = set_field32(end::W6_NVT_BLOCK, 0, u32::from(nvt_block))
            | set_field32(end::W6_NVT_INDEX, 0, nvt_index);
        e.w[7] = set_field32(end::W7_F0_PRIORITY, 0, u32::from(priority));
        e
    }

    /// Guest address of queue entry `index`.
    pub fn entry_addr(&self, index: u32) -> Option<u64> {
        self.qaddr().checked_add(u64::from(index) * 4)
    }

    /// Writes `data` into the queue at the current index with the current
    /// generation, then advances the index (flipping the generation on
    /// wrap). On a failed write nothing changes.
    pub fn enqueue(&mut self, mem: &GuestMemoryMmap, data: u32) -> Result<(), EnqueueError> {
        let qindex = self.qindex();
        let entries = self.qentries();
        let addr = self.entry_addr(qindex).ok_or(EnqueueError(u64::MAX))?;
        let value = (self.qgen() << 31) | (data & 0x7FFF_FFFF);
        // The entry is big-endian in guest memory; store its bytes with one
        // aligned 32-bit release store so a reader never sees half an entry.
        let raw = u32::from_ne_bytes(value.to_be_bytes());
        mem.store(raw, GuestAddress(addr), Ordering::Release)
            .map_err(|_| EnqueueError(addr))?;
        let next = (qindex + 1) & (entries - 1);
        let mut w1 = set_field32(end::W1_PAGE_OFF, self.w[1], next);
        if next == 0 {
            w1 ^= end::W1_GENERATION;
        }
        self.w[1] = w1;
        Ok(())
    }
}

#[repr(align(64))]
#[derive(Debug)]
struct EndCell(Mutex<End>);

/// The END table of a router.
#[derive(Debug)]
pub struct EndTable {
    cells: Box<[EndCell]>,
}

impl EndTable {
    /// `n` ENDs in the reset state.
    pub fn new(n: u32) -> Self {
        Self {
            cells: (0..n).map(|_| EndCell(Mutex::new(End::RESET))).collect(),
        }
    }

    /// Number of ENDs.
    pub fn len(&self) -> u32 {
        self.cells.len() as u32
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Locks END `index`.
    #[inline]
    pub fn lock(&self, index: u32) -> Option<MutexGuard<'_, End>> {
        self.cells.get(index as usize).map(|c| c.0.lock())
    }

    /// A copy of END `index`.
    pub fn get(&self, index: u32) -> Option<End> {
        self.lock(index).map(|g| *g)
    }

    /// Replaces END `index`; false if it does not exist.
    pub fn set(&self, index: u32, value: End) -> bool {
        match self.lock(index) {
            Some(mut g) => {
                *g = value;
                true
            }
            None => false,
        }
    }

    /// Resets every END.
    pub fn reset(&self) {
        for c in self.cells.iter() {
            *c.0.lock() = End::RESET;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enqueue_writes_big_endian_with_generation_and_wraps() {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x10000)]).unwrap();
        let mut e = End::with_queue(0x1000, 12, 0, 0x400, 6, true);
        assert_eq!(e.qentries(), 1024);
        e.enqueue(&mem, 42).unwrap();
        let mut b = [0u8; 4];
        mem.read_slice(&mut b, GuestAddress(0x1000)).unwrap();
        assert_eq!(b, [0x80, 0, 0, 42]);
        for i in 1..1024 {
            e.enqueue(&mem, i).unwrap();
        }
        assert_eq!(e.qindex(), 0);
        assert_eq!(e.qgen(), 0);
        e.enqueue(&mem, 7).unwrap();
        mem.read_slice(&mut b, GuestAddress(0x1000)).unwrap();
        assert_eq!(b, [0, 0, 0, 7]);
    }

    #[test]
    fn failed_write_changes_nothing() {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x1000)]).unwrap();
        let mut e = End::with_queue(0x1_0000, 12, 0, 0x400, 6, true);
        let before = e;
        assert_eq!(e.enqueue(&mem, 1), Err(EnqueueError(0x1_0000)));
        assert_eq!(e, before);
    }
}
