//! The number bitmap behind the allocators, with a summary level so that a
//! search skips full words without reading them.
//!
//! A machine's MSI range is a few thousand numbers; a guest that has used
//! almost all of them must not make the next hot-plugged function's
//! allocation a scan of the whole map. The summary keeps one bit per word
//! ("every number of this word is used"), so finding the first free number
//! reads one summary word per 4096 numbers and then the one word it points
//! to.

/// A fixed-size bitmap, one bit per number, set meaning "used".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bitmap {
    /// Bit `i % 64` of word `i / 64` is number `i`: the migration form.
    words: Vec<u64>,
    /// Bit `k % 64` of summary word `k / 64`: word `k` is full.
    full: Vec<u64>,
    bits: u32,
}

impl Bitmap {
    /// A map of `bits` free numbers.
    pub(crate) fn new(bits: u32) -> Self {
        let nwords = bits.div_ceil(64) as usize;
        Self {
            words: vec![0; nwords],
            full: vec![0; nwords.div_ceil(64)],
            bits,
        }
    }

    /// A map of `bits` numbers from its words; `None` if the count is wrong
    /// or a bit past `bits` is set.
    pub(crate) fn from_words(words: &[u64], bits: u32) -> Option<Self> {
        let mut map = Self::new(bits);
        if words.len() != map.words.len() {
            return None;
        }
        map.words.copy_from_slice(words);
        for k in 0..map.words.len() {
            if map.words[k] & map.padding(k) != 0 {
                return None;
            }
            map.update_summary(k);
        }
        Some(map)
    }

    /// The words, in the migration form.
    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }

    /// How many numbers the map covers.
    pub(crate) fn len(&self) -> u32 {
        self.bits
    }

    /// Whether number `i` is used.
    pub(crate) fn get(&self, i: u32) -> bool {
        self.words[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    /// Marks number `i` used or free.
    pub(crate) fn set(&mut self, i: u32, v: bool) {
        let k = (i / 64) as usize;
        if v {
            self.words[k] |= 1 << (i % 64);
        } else {
            self.words[k] &= !(1 << (i % 64));
        }
        self.update_summary(k);
    }

    /// Marks numbers `[start, start + num)` used or free, a word at a time;
    /// the range must lie inside the map.
    pub(crate) fn set_range(&mut self, start: u32, num: u32, v: bool) {
        let end = start + num;
        let mut i = start;
        while i < end {
            let k = (i / 64) as usize;
            let hi = end.min((k as u32 + 1) * 64);
            let width = hi - i;
            let mask = if width == 64 {
                u64::MAX
            } else {
                ((1u64 << width) - 1) << (i % 64)
            };
            if v {
                self.words[k] |= mask;
            } else {
                self.words[k] &= !mask;
            }
            self.update_summary(k);
            i = hi;
        }
    }

    /// Whether no number is used.
    pub(crate) fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The bits of word `k` that are past the end of the map.
    fn padding(&self, k: usize) -> u64 {
        let first = k as u64 * 64;
        let valid = (u64::from(self.bits) - first).min(64);
        if valid == 64 {
            0
        } else {
            !0 << valid
        }
    }

    fn update_summary(&mut self, k: usize) {
        let bit = 1 << (k % 64);
        if self.words[k] | self.padding(k) == u64::MAX {
            self.full[k / 64] |= bit;
        } else {
            self.full[k / 64] &= !bit;
        }
    }

    /// The first free number at or after `from`.
    fn next_clear(&self, from: u32) -> Option<u32> {
        if from >= self.bits {
            return None;
        }
        let k = (from / 64) as usize;
        let free = !(self.words[k] | self.padding(k)) & (!0 << (from % 64));
        if free != 0 {
            return Some(k as u32 * 64 + free.trailing_zeros());
        }
        // Skip full words through the summary.
        let mut next = k + 1;
        while next < self.words.len() {
            let s = next / 64;
            let not_full = !self.full[s] & (!0 << (next % 64));
            if not_full != 0 {
                let w = s * 64 + not_full.trailing_zeros() as usize;
                if w >= self.words.len() {
                    return None;
                }
                let free = !(self.words[w] | self.padding(w));
                return Some(w as u32 * 64 + free.trailing_zeros());
            }
            next = (s + 1) * 64;
        }
        None
    }

    /// The first used number in `[from, end)`.
    fn next_set(&self, from: u32, end: u32) -> Option<u32> {
        let mut i = from;
        while i < end {
            let k = (i / 64) as usize;
            let used = self.words[k] & (!0 << (i % 64));
            if used != 0 {
                let n = k as u32 * 64 + used.trailing_zeros();
                return (n < end).then_some(n);
            }
            i = (k as u32 + 1) * 64;
        }
        None
    }

    /// First index `i`, a multiple of `align` (a power of two), with `num`
    /// free numbers from `i`.
    pub(crate) fn find_clear_run(&self, num: u32, align: u32) -> Option<u32> {
        if num == 0 || num > self.bits {
            return None;
        }
        let mut start = 0;
        loop {
            start = self.next_clear(start)?.next_multiple_of(align);
            let end = start.checked_add(num).filter(|&e| e <= self.bits)?;
            match self.next_set(start, end) {
                None => return Some(start),
                Some(used) => start = used + 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The obvious search, number by number.
    fn naive(map: &Bitmap, num: u32, align: u32) -> Option<u32> {
        if num == 0 || num > map.len() {
            return None;
        }
        (0..=map.len() - num)
            .step_by(align as usize)
            .find(|&s| (s..s + num).all(|i| !map.get(i)))
    }

    proptest! {
        #[test]
        fn search_agrees_with_the_obvious_one(
            bits in 1u32..700,
            used in proptest::collection::vec(any::<u32>(), 0..700),
            freed in proptest::collection::vec(any::<u32>(), 0..50),
            num in 1u32..40,
            align_log in 0u32..6,
        ) {
            let mut map = Bitmap::new(bits);
            for u in used {
                map.set(u % bits, true);
            }
            for f in freed {
                map.set(f % bits, false);
            }
            let align = 1 << align_log;
            prop_assert_eq!(map.find_clear_run(num, align), naive(&map, num, align));
            let back = Bitmap::from_words(map.words(), bits).unwrap();
            prop_assert_eq!(&back, &map);
            if let Some(start) = map.find_clear_run(num, align) {
                let mut by_bit = map.clone();
                for i in start..start + num {
                    by_bit.set(i, true);
                }
                map.set_range(start, num, true);
                prop_assert_eq!(&map, &by_bit);
                map.set_range(start, num, false);
                prop_assert_eq!(&map, &back);
            }
        }
    }

    #[test]
    fn a_full_map_but_one_finds_the_one() {
        let mut map = Bitmap::new(8192);
        for i in 0..8192 {
            map.set(i, true);
        }
        assert_eq!(map.find_clear_run(1, 1), None);
        map.set(8191, false);
        assert_eq!(map.find_clear_run(1, 1), Some(8191));
        assert_eq!(map.find_clear_run(2, 1), None);
        map.set(4100, false);
        assert_eq!(map.find_clear_run(1, 1), Some(4100));
    }

    #[test]
    fn words_with_bits_past_the_end_are_refused() {
        assert!(Bitmap::from_words(&[1 << 10], 10).is_none());
        assert!(Bitmap::from_words(&[1 << 9], 10).is_some());
        assert!(Bitmap::from_words(&[0, 0], 10).is_none());
    }
}
