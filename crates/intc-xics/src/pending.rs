//! A lock-free two-level bitmap of the sources the ICS resend pass must
//! look at.
//!
//! QEMU's resend walks every source of the ICS on each EOI and each CPPR
//! change. Here a source is marked when it may need a resend (an MSI is
//! rejected, an asserted LSI loses its SENT bit) and the resend pass visits
//! marked sources only, in ascending order, exactly as the full walk would.
//! A summary word per 64 bitmap words makes "nothing marked" one load for up
//! to 4096 sources.
//!
//! A mark is only a hint: the pass re-reads the source state and does
//! nothing when the source turned out not to need a resend.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

/// The bitmap; see the module documentation.
#[derive(Debug)]
pub struct PendingSet {
    words: Box<[AtomicU64]>,
    summary: Box<[AtomicU64]>,
    len: u32,
}

impl PendingSet {
    /// A bitmap of `len` clear bits.
    pub fn new(len: u32) -> Self {
        let nwords = len.div_ceil(64) as usize;
        let nsummary = nwords.div_ceil(64);
        Self {
            words: (0..nwords).map(|_| AtomicU64::new(0)).collect(),
            summary: (0..nsummary).map(|_| AtomicU64::new(0)).collect(),
            len,
        }
    }

    /// Number of bits.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the bitmap has no bits at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Marks bit `i` (ignored when out of range).
    #[inline]
    pub fn mark(&self, i: u32) {
        if i >= self.len {
            return;
        }
        let w = (i / 64) as usize;
        // Word bit first, summary bit second: a pass that finds the summary
        // bit then always finds the word bit (see `next_word`).
        self.words[w].fetch_or(1 << (i % 64), SeqCst);
        self.summary[w / 64].fetch_or(1 << (w % 64), SeqCst);
    }

    /// Whether bit `i` is marked.
    pub fn is_marked(&self, i: u32) -> bool {
        i < self.len && self.words[(i / 64) as usize].load(SeqCst) & (1 << (i % 64)) != 0
    }

    /// Clears and returns the lowest marked bit at or above `from`, if any.
    /// Bits marked meanwhile above the returned one are found by the next
    /// call, which is what makes a pass equivalent to an ascending walk.
    #[inline]
    pub fn take_next(&self, from: u32) -> Option<u32> {
        let mut from = from;
        while from < self.len {
            let w = self.next_word(from)?;
            let mut bits = self.words[w].load(SeqCst);
            if w == (from / 64) as usize {
                bits &= u64::MAX << (from % 64);
            }
            while bits != 0 {
                let b = bits.trailing_zeros();
                let mask = 1u64 << b;
                if self.words[w].fetch_and(!mask, SeqCst) & mask != 0 {
                    return Some(w as u32 * 64 + b);
                }
                bits &= !mask;
            }
            from = (w as u32 + 1) * 64;
        }
        None
    }

    /// Index of the first word at or after the one holding bit `from` whose
    /// summary bit is set and which has a bit at or above `from`. Clears
    /// stale summary bits on the way.
    fn next_word(&self, from: u32) -> Option<usize> {
        let first_word = (from / 64) as usize;
        let mut s = first_word / 64;
        while s < self.summary.len() {
            let mut sbits = self.summary[s].load(SeqCst);
            if s == first_word / 64 {
                sbits &= u64::MAX << (first_word % 64);
            }
            while sbits != 0 {
                let wb = sbits.trailing_zeros() as usize;
                let w = s * 64 + wb;
                let mut bits = self.words[w].load(SeqCst);
                if w == first_word {
                    bits &= u64::MAX << (from % 64);
                }
                if bits != 0 {
                    return Some(w);
                }
                if w != first_word {
                    // Stale summary bit: clear it, then look again, so a
                    // mark racing with the clear re-sets it (`mark` sets the
                    // word before the summary).
                    self.summary[s].fetch_and(!(1 << wb), SeqCst);
                    if self.words[w].load(SeqCst) != 0 {
                        self.summary[s].fetch_or(1 << wb, SeqCst);
                        return Some(w);
                    }
                }
                sbits &= !(1 << wb);
            }
            s += 1;
        }
        None
    }

    /// Clears every bit (ICS reset, incoming migration).
    pub fn clear_all(&self) {
        for w in self.words.iter() {
            w.store(0, SeqCst);
        }
        for s in self.summary.iter() {
            s.store(0, SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(p: &PendingSet) -> Vec<u32> {
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(i) = p.take_next(from) {
            out.push(i);
            from = i + 1;
        }
        out
    }

    #[test]
    fn takes_marks_in_ascending_order_once() {
        let p = PendingSet::new(4096 + 70);
        for i in [4100, 3, 64, 63, 4095, 0, 1000, 3] {
            p.mark(i);
        }
        p.mark(99_999); // out of range: ignored
        assert_eq!(drain(&p), vec![0, 3, 63, 64, 1000, 4095, 4100]);
        assert_eq!(drain(&p), Vec::<u32>::new());
    }

    #[test]
    fn a_mark_above_the_cursor_during_a_pass_is_found_below_it_is_not() {
        let p = PendingSet::new(256);
        p.mark(10);
        p.mark(200);
        assert_eq!(p.take_next(0), Some(10));
        p.mark(5); // below the cursor: for the next pass
        p.mark(11); // above: this pass
        assert_eq!(p.take_next(11), Some(11));
        assert_eq!(p.take_next(12), Some(200));
        assert_eq!(p.take_next(201), None);
        assert!(p.is_marked(5));
        assert_eq!(drain(&p), vec![5]);
    }

    #[test]
    fn clear_all_and_small_sizes() {
        let p = PendingSet::new(1);
        assert_eq!(p.len(), 1);
        p.mark(0);
        p.clear_all();
        assert_eq!(p.take_next(0), None);
        let e = PendingSet::new(0);
        assert!(e.is_empty());
        e.mark(0);
        assert_eq!(e.take_next(0), None);
    }

    #[test]
    fn concurrent_marks_are_never_lost() {
        use std::sync::Arc;
        let p = Arc::new(PendingSet::new(8192));
        let taken = Arc::new((0..8192).map(|_| AtomicU64::new(0)).collect::<Vec<_>>());
        let markers: Vec<_> = (0..2)
            .map(|t| {
                let p = Arc::clone(&p);
                std::thread::spawn(move || {
                    for i in (t..8192).step_by(2) {
                        p.mark(i);
                    }
                })
            })
            .collect();
        let taker = {
            let (p, taken) = (Arc::clone(&p), Arc::clone(&taken));
            std::thread::spawn(move || {
                for _ in 0..50 {
                    for i in drain(&p) {
                        taken[i as usize].fetch_add(1, SeqCst);
                    }
                }
            })
        };
        for m in markers {
            m.join().unwrap();
        }
        taker.join().unwrap();
        for i in drain(&p) {
            taken[i as usize].fetch_add(1, SeqCst);
        }
        assert!(taken.iter().all(|t| t.load(SeqCst) == 1));
    }
}
