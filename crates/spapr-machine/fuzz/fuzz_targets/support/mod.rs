//! What both machine fuzz targets share: the input reader, the machine
//! configurations and the guest-RAM watch.

#![allow(dead_code)]

use spapr_machine::machine::Machine;
use std::collections::HashMap;

/// The machines fuzzed: (`-machine`, whether XIVE can be negotiated).
pub const MACHINES: [&str; 5] = [
    "pseries,ic-mode=xics",
    "pseries,ic-mode=xive",
    "pseries",
    "pseries-3.0",
    "pseries-4.2",
];

/// Reads the input front to back; zeros once it runs out.
pub struct Input<'a>(pub &'a [u8]);

impl Input<'_> {
    /// Whether anything is left.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// One byte.
    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    /// Big-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    /// Big-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    /// Big-endian u64.
    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) << 32 | u64::from(self.u32())
    }
    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a.to_vec()
    }
}

/// Guest RAM as last seen, page by page, to find every byte the machine
/// changed: the host's page map lists the pages that were ever touched
/// (untouched pages read as zero), so only those are compared; between
/// two full comparisons, only the pages known to hold data and those a
/// step handed over.
#[derive(Default)]
pub struct RamWatch {
    pages: HashMap<u64, (u64, Vec<u8>)>,
}

/// A digest of some bytes. Pages are compared by digest: std's hasher is
/// not instrumented, while a slice comparison goes through libFuzzer's
/// `memcmp` hook, which costs more than the machine under test.
pub fn digest(b: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    b.hash(&mut h);
    h.finish()
}

/// A byte the machine changed where it had no business to.
#[derive(Debug)]
pub struct StrayWrite {
    /// Guest-physical address.
    pub addr: u64,
    /// What it was.
    pub was: u8,
    /// What it is.
    pub now: u8,
}

impl RamWatch {
    /// Takes the current RAM as the reference.
    pub fn new(m: &Machine) -> Self {
        let mut w = Self::default();
        let _ = w.check(m, |_| true);
        w
    }

    /// Compares every page the host ever populated with the reference:
    /// every changed byte must satisfy `allowed`; the reference then
    /// becomes the current RAM. Returns the first stray write.
    pub fn check(&mut self, m: &Machine, allowed: impl Fn(u64) -> bool) -> Result<(), StrayWrite> {
        let mut pages = Vec::new();
        for (first, count) in m.ram().populated_runs() {
            pages.extend(first..first + count);
        }
        self.check_pages(m, pages, allowed)
    }

    /// The pages worth looking at after one step: those seen before, and
    /// the first pages of `ranges` (a wild write elsewhere is caught by
    /// the next [`RamWatch::check`]).
    pub fn candidates(&self, ranges: &[(u64, u64)]) -> Vec<u64> {
        let page = spapr_machine::memory::HOST_PAGE;
        let mut pages: Vec<u64> = self.pages.keys().copied().collect();
        for &(start, end) in ranges {
            let first = start / page;
            let last = end.saturating_sub(1) / page;
            pages.extend(first..=last.min(first + 64));
            // The page before and after, for writes that overrun.
            pages.push(first.saturating_sub(1));
            pages.push(last.saturating_add(1));
        }
        pages.sort_unstable();
        pages.dedup();
        pages
    }

    /// [`RamWatch::check`] over the given pages only.
    pub fn check_pages(
        &mut self,
        m: &Machine,
        pages: impl IntoIterator<Item = u64>,
        allowed: impl Fn(u64) -> bool,
    ) -> Result<(), StrayWrite> {
        let ram = m.ram();
        let page = spapr_machine::memory::HOST_PAGE;
        let mut buf = vec![0u8; page as usize];
        let zero = digest(&buf);
        let mut stray = None;
        for p in pages {
            // Ranges the guest gave can end near 2^64: pages past the
            // address space hold nothing.
            let Some(addr) = p.checked_mul(page) else {
                continue;
            };
            if !ram.read(addr, &mut buf) {
                continue;
            }
            let now = digest(&buf);
            let old = self.pages.get(&p);
            if now == old.map_or(zero, |o| o.0) {
                continue;
            }
            if stray.is_none() {
                for (i, &b) in buf.iter().enumerate() {
                    let was = old.map_or(0, |o| o.1[i]);
                    let a = addr + i as u64;
                    if was != b && !allowed(a) {
                        stray = Some(StrayWrite {
                            addr: a,
                            was,
                            now: b,
                        });
                        break;
                    }
                }
            }
            self.pages.insert(p, (now, buf.clone()));
        }
        match stray {
            Some(s) => Err(s),
            None => Ok(()),
        }
    }
}
