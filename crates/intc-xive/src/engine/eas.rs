//! Event Assignment Structures: where each source's events go.
//!
//! One 64-bit word per source, each in its own atomic: the router reads it
//! with one load, configuration replaces it with one store (or a
//! compare-and-swap when claiming), so no lock is shared between sources.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::regs::{eas, get_field64, set_field64};

/// One EAS word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Eas(pub u64);

impl Eas {
    /// A valid, masked EAS with no route (what a claim sets).
    pub const VALID_MASKED: Eas = Eas(eas::VALID | eas::MASKED);

    /// Builds a valid EAS routing to END `block/index` with `data`.
    pub fn route(block: u8, index: u32, data: u32, masked: bool) -> Self {
        let mut w = eas::VALID;
        w = set_field64(eas::END_BLOCK, w, u64::from(block));
        w = set_field64(eas::END_INDEX, w, u64::from(index));
        w = set_field64(eas::END_DATA, w, u64::from(data));
        if masked {
            w |= eas::MASKED;
        }
        Eas(w)
    }

    /// Whether the entry is valid.
    pub fn is_valid(self) -> bool {
        self.0 & eas::VALID != 0
    }

    /// Whether events are dropped after the PQ check.
    pub fn is_masked(self) -> bool {
        self.0 & eas::MASKED != 0
    }

    /// END block.
    pub fn end_block(self) -> u8 {
        get_field64(eas::END_BLOCK, self.0) as u8
    }

    /// END index.
    pub fn end_index(self) -> u32 {
        get_field64(eas::END_INDEX, self.0) as u32
    }

    /// Event data (EISN).
    pub fn end_data(self) -> u32 {
        get_field64(eas::END_DATA, self.0) as u32
    }
}

/// The EAS table of a router.
#[derive(Debug)]
pub struct EasTable {
    entries: Box<[AtomicU64]>,
}

impl EasTable {
    /// `n` invalid entries.
    pub fn new(n: u32) -> Self {
        Self {
            entries: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> u32 {
        self.entries.len() as u32
    }

    /// Whether the table has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry at `index`, if it exists.
    #[inline]
    pub fn get(&self, index: u32) -> Option<Eas> {
        self.entries
            .get(index as usize)
            .map(|e| Eas(e.load(Ordering::Acquire)))
    }

    /// Replaces the entry at `index`; false if it does not exist.
    pub fn set(&self, index: u32, value: Eas) -> bool {
        match self.entries.get(index as usize) {
            Some(e) => {
                e.store(value.0, Ordering::Release);
                true
            }
            None => false,
        }
    }

    /// Applies `f` atomically to the entry at `index`; returns the old
    /// value, or `None` if the entry does not exist or `f` declined.
    pub fn update(&self, index: u32, mut f: impl FnMut(Eas) -> Option<Eas>) -> Option<Eas> {
        let e = self.entries.get(index as usize)?;
        e.fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
            f(Eas(w)).map(|n| n.0)
        })
        .ok()
        .map(Eas)
    }

    /// Machine reset: valid entries become valid and masked with no route,
    /// invalid ones zero.
    pub fn reset(&self) {
        for e in self.entries.iter() {
            let v = if Eas(e.load(Ordering::Acquire)).is_valid() {
                Eas::VALID_MASKED.0
            } else {
                0
            };
            e.store(v, Ordering::Release);
        }
    }
}
