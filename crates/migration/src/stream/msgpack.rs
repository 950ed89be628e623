//! A bounded MessagePack validator and the few encoders the envelope needs.
//!
//! The validator walks a value without recursion and without allocating: it
//! checks every length against the bytes that remain and against
//! [`Limits`], and the nesting depth against [`Limits::max_depth`], before
//! anything downstream (rmp-serde, rmpv) sees the bytes. So a component
//! decoding its validated fields with rmp-serde cannot be driven into deep
//! recursion or a large allocation by the stream.
//!
//! Marker bytes are those of the MessagePack specification.

use super::{Limits, StreamError, MAX_DEPTH_CEILING};

/// Cursor over one MessagePack-encoded record payload.
pub(crate) struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Stream offset of `buf[0]`, for error messages.
    base: u64,
    what: &'static str,
}

/// The shape of one value's first marker.
enum Head {
    /// A scalar whose remaining payload is this many bytes.
    Scalar(usize),
    /// A string of this many bytes.
    Str(usize),
    /// Binary of this many bytes.
    Bin(usize),
    /// An array of this many elements.
    Array(u32),
    /// A map of this many pairs.
    Map(u32),
}

impl<'a> Parser<'a> {
    /// A parser over `buf`, which starts at stream offset `base`; `what`
    /// names the element in errors.
    pub fn new(buf: &'a [u8], base: u64, what: &'static str) -> Self {
        Self {
            buf,
            pos: 0,
            base,
            what,
        }
    }

    /// Stream offset of the current position.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// An error at the current position.
    pub fn err(&self, reason: impl Into<String>) -> StreamError {
        StreamError::malformed(self.what, self.offset(), reason)
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), StreamError> {
        if self.remaining() != 0 {
            return Err(self.err(format!("{} bytes after the value", self.remaining())));
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], StreamError> {
        if n > self.remaining() {
            return Err(self.err(format!(
                "needs {n} bytes, {} remain in the record",
                self.remaining()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, StreamError> {
        Ok(self.take(1)?[0])
    }

    fn be(&mut self, n: usize) -> Result<u64, StreamError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Reads a marker and what it announces (lengths not yet checked against
    /// the remaining bytes).
    fn head(&mut self) -> Result<Head, StreamError> {
        let m = self.byte()?;
        Ok(match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => Head::Scalar(0),
            0x80..=0x8f => Head::Map(u32::from(m & 0x0f)),
            0x90..=0x9f => Head::Array(u32::from(m & 0x0f)),
            0xa0..=0xbf => Head::Str(usize::from(m & 0x1f)),
            0xc1 => return Err(self.err("marker 0xc1 is never used")),
            0xc4 => Head::Bin(self.be(1)? as usize),
            0xc5 => Head::Bin(self.be(2)? as usize),
            0xc6 => Head::Bin(self.be(4)? as usize),
            0xc7..=0xc9 | 0xd4..=0xd8 => {
                return Err(self.err("MessagePack extension types are not used by this format"))
            }
            0xca => Head::Scalar(4),
            0xcb => Head::Scalar(8),
            0xcc | 0xd0 => Head::Scalar(1),
            0xcd | 0xd1 => Head::Scalar(2),
            0xce | 0xd2 => Head::Scalar(4),
            0xcf | 0xd3 => Head::Scalar(8),
            0xd9 => Head::Str(self.be(1)? as usize),
            0xda => Head::Str(self.be(2)? as usize),
            0xdb => Head::Str(self.be(4)? as usize),
            0xdc => Head::Array(self.be(2)? as u32),
            0xdd => Head::Array(self.be(4)? as u32),
            0xde => Head::Map(self.be(2)? as u32),
            0xdf => Head::Map(self.be(4)? as u32),
        })
    }

    /// Checks a container's element count against the limit and against the
    /// bytes left (every element takes at least one byte); returns how many
    /// values follow.
    fn items(&self, count: u32, per: u64, limits: &Limits) -> Result<u64, StreamError> {
        if count > limits.max_container_len {
            return Err(StreamError::limit(
                "MessagePack container length",
                count.into(),
                limits.max_container_len.into(),
                self.offset(),
            ));
        }
        let items = u64::from(count) * per;
        if items > self.remaining() as u64 {
            return Err(self.err(format!(
                "container announces {items} values but only {} bytes remain",
                self.remaining()
            )));
        }
        Ok(items)
    }

    /// Validates one whole value and returns its byte range in the payload.
    pub fn skip_value(&mut self, limits: &Limits) -> Result<std::ops::Range<usize>, StreamError> {
        let start = self.pos;
        if let Some(end) = skip_fast(self.buf, start, limits) {
            self.pos = end;
            return Ok(start..end);
        }
        // Something is wrong: walk again, slowly, to say what and where.
        self.skip_value_slow(limits)
    }

    fn skip_value_slow(&mut self, limits: &Limits) -> Result<std::ops::Range<usize>, StreamError> {
        let start = self.pos;
        let max_depth = limits.max_depth.min(MAX_DEPTH_CEILING) as usize;
        // Values still to read at each open container level.
        let mut stack = [0u64; MAX_DEPTH_CEILING as usize];
        let mut depth = 0usize;
        let mut left = 1u64;
        loop {
            while left == 0 {
                if depth == 0 {
                    return Ok(start..self.pos);
                }
                depth -= 1;
                left = stack[depth];
            }
            left -= 1;
            let items = match self.head()? {
                Head::Scalar(n) => {
                    self.take(n)?;
                    continue;
                }
                Head::Str(n) => {
                    let at = self.offset();
                    let s = self.take(n)?;
                    if std::str::from_utf8(s).is_err() {
                        return Err(StreamError::malformed(self.what, at, "string is not UTF-8"));
                    }
                    continue;
                }
                Head::Bin(n) => {
                    self.take(n)?;
                    continue;
                }
                Head::Array(n) => self.items(n, 1, limits)?,
                Head::Map(n) => self.items(n, 2, limits)?,
            };
            if items == 0 {
                continue;
            }
            if depth + 1 > max_depth {
                return Err(StreamError::limit(
                    "MessagePack nesting depth",
                    (depth + 1) as u64,
                    max_depth as u64,
                    self.offset(),
                ));
            }
            stack[depth] = left;
            depth += 1;
            left = items;
        }
    }

    /// Reads a map header and returns its number of pairs.
    pub fn map_len(&mut self, limits: &Limits) -> Result<u32, StreamError> {
        match self.head()? {
            Head::Map(n) => {
                self.items(n, 2, limits)?;
                Ok(n)
            }
            _ => Err(self.err("expected a map")),
        }
    }

    /// Reads an array header and returns its number of elements.
    pub fn array_len(&mut self, limits: &Limits) -> Result<u32, StreamError> {
        match self.head()? {
            Head::Array(n) => {
                self.items(n, 1, limits)?;
                Ok(n)
            }
            _ => Err(self.err("expected an array")),
        }
    }

    /// Reads a string of at most `max` bytes.
    pub fn str(&mut self, max: u32, what: &'static str) -> Result<&'a str, StreamError> {
        let at = self.offset();
        let n = match self.head()? {
            Head::Str(n) => n,
            _ => {
                return Err(StreamError::malformed(
                    self.what,
                    at,
                    format!("{what}: expected a string"),
                ))
            }
        };
        if n as u64 > u64::from(max) {
            return Err(StreamError::limit(what, n as u64, max.into(), at));
        }
        let s = self.take(n)?;
        std::str::from_utf8(s)
            .map_err(|_| StreamError::malformed(self.what, at, format!("{what} is not UTF-8")))
    }

    /// Reads a non-negative integer.
    pub fn uint(&mut self, what: &'static str) -> Result<u64, StreamError> {
        let at = self.offset();
        let m = self.byte()?;
        let v: i128 = match m {
            0x00..=0x7f => m.into(),
            0xcc => self.be(1)?.into(),
            0xcd => self.be(2)?.into(),
            0xce => self.be(4)?.into(),
            0xcf => self.be(8)?.into(),
            0xd0 => (self.be(1)? as u8 as i8).into(),
            0xd1 => (self.be(2)? as u16 as i16).into(),
            0xd2 => (self.be(4)? as u32 as i32).into(),
            0xd3 => (self.be(8)? as i64).into(),
            0xe0..=0xff => (m as i8).into(),
            _ => {
                return Err(StreamError::malformed(
                    self.what,
                    at,
                    format!("{what}: expected an integer"),
                ))
            }
        };
        u64::try_from(v)
            .map_err(|_| StreamError::malformed(self.what, at, format!("{what} is negative")))
    }

    /// Reads an integer that must fit 32 bits.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, StreamError> {
        let at = self.offset();
        let v = self.uint(what)?;
        u32::try_from(v).map_err(|_| {
            StreamError::malformed(self.what, at, format!("{what} {v} does not fit 32 bits"))
        })
    }
}

/// The validator's hot loop: the same rules as [`Parser::skip_value`]'s
/// slow walk, on plain indices, answering only "valid up to here" or "not
/// valid" (the slow walk then finds the error).
fn skip_fast(buf: &[u8], start: usize, limits: &Limits) -> Option<usize> {
    let max_depth = limits.max_depth.min(MAX_DEPTH_CEILING) as usize;
    let max_len = u64::from(limits.max_container_len);
    let mut stack = [0u64; MAX_DEPTH_CEILING as usize];
    let mut depth = 0usize;
    let mut left = 1u64;
    let mut pos = start;
    let be = |pos: usize, n: usize| -> Option<u64> {
        Some(
            buf.get(pos..pos.checked_add(n)?)?
                .iter()
                .fold(0u64, |a, &b| (a << 8) | u64::from(b)),
        )
    };
    loop {
        while left == 0 {
            if depth == 0 {
                return Some(pos);
            }
            depth -= 1;
            left = stack[depth];
        }
        left -= 1;
        let m = *buf.get(pos)?;
        pos += 1;
        // (bytes to skip, whether they are a string) or a container count.
        let (skip, is_str, count, per) = match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => continue,
            0x80..=0x8f => (0, false, u64::from(m & 0x0f), 2),
            0x90..=0x9f => (0, false, u64::from(m & 0x0f), 1),
            0xa0..=0xbf => (usize::from(m & 0x1f), true, 0, 0),
            0xcc | 0xd0 => (1, false, 0, 0),
            0xcd | 0xd1 => (2, false, 0, 0),
            0xca | 0xce | 0xd2 => (4, false, 0, 0),
            0xcb | 0xcf | 0xd3 => (8, false, 0, 0),
            0xc4 | 0xd9 => (be(pos, 1)? as usize + 1, m == 0xd9, 0, 0),
            0xc5 | 0xda => (be(pos, 2)? as usize + 2, m == 0xda, 0, 0),
            0xc6 | 0xdb => (be(pos, 4)? as usize + 4, m == 0xdb, 0, 0),
            0xdc => (2, false, be(pos, 2)?, 1),
            0xdd => (4, false, be(pos, 4)?, 1),
            0xde => (2, false, be(pos, 2)?, 2),
            0xdf => (4, false, be(pos, 4)?, 2),
            _ => return None,
        };
        if per == 0 {
            let next = pos.checked_add(skip).filter(|&n| n <= buf.len())?;
            if is_str {
                let len_bytes = match m {
                    0xd9 => 1,
                    0xda => 2,
                    0xdb => 4,
                    _ => 0,
                };
                let text = &buf[pos + len_bytes..next];
                if !text.is_ascii() && std::str::from_utf8(text).is_err() {
                    return None;
                }
            }
            pos = next;
            continue;
        }
        pos += skip;
        if pos > buf.len() || count > max_len {
            return None;
        }
        let items = count * per;
        if items > (buf.len() - pos) as u64 {
            return None;
        }
        if items == 0 {
            continue;
        }
        if depth + 1 > max_depth {
            return None;
        }
        stack[depth] = left;
        depth += 1;
        left = items;
    }
}

/// Validates that `bytes` hold exactly one MessagePack value within
/// `limits`.
pub(crate) fn validate(
    bytes: &[u8],
    base: u64,
    what: &'static str,
    limits: &Limits,
) -> Result<(), StreamError> {
    let mut p = Parser::new(bytes, base, what);
    p.skip_value(limits)?;
    p.finish()
}

/// Appends a map header for `n` pairs.
pub(crate) fn write_map_len(out: &mut Vec<u8>, n: u32) {
    match n {
        0..=15 => out.push(0x80 | n as u8),
        16..=0xffff => {
            out.push(0xde);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(0xdf);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// Appends an array header for `n` elements.
pub(crate) fn write_array_len(out: &mut Vec<u8>, n: u32) {
    match n {
        0..=15 => out.push(0x90 | n as u8),
        16..=0xffff => {
            out.push(0xdc);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(0xdd);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// Appends a string in its shortest form.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// Appends an unsigned integer in its shortest form.
pub(crate) fn write_uint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
    } else if v <= 0xff {
        out.extend_from_slice(&[0xcc, v as u8]);
    } else if v <= 0xffff {
        out.push(0xcd);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= 0xffff_ffff {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8]) -> Result<(), StreamError> {
        validate(bytes, 0, "test value", &Limits::default())
    }

    #[test]
    fn accepts_what_rmp_serde_writes() {
        #[derive(serde::Serialize)]
        struct S {
            a: u64,
            b: Vec<i32>,
            c: Option<String>,
            d: (f32, f64, bool),
            e: std::collections::BTreeMap<String, Vec<u8>>,
        }
        let v = S {
            a: u64::MAX,
            b: vec![-1, -200, 70000, i32::MIN],
            c: Some("é".repeat(40)),
            d: (1.5, -2.25, true),
            e: [("k".to_owned(), vec![1, 2, 3])].into(),
        };
        check(&rmp_serde::to_vec_named(&v).unwrap()).unwrap();
        check(&rmp_serde::to_vec(&v).unwrap()).unwrap();
        let bin = rmpv::Value::Binary(vec![7; 300]);
        let mut buf = Vec::new();
        rmpv::encode::write_value(&mut buf, &bin).unwrap();
        check(&buf).unwrap();
    }

    #[test]
    fn encoders_match_rmp() {
        for n in [
            0u64,
            1,
            0x7f,
            0x80,
            0xff,
            0x100,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            1 << 32,
            u64::MAX,
        ] {
            let mut ours = Vec::new();
            write_uint(&mut ours, n);
            assert_eq!(ours, rmp_serde::to_vec(&n).unwrap(), "{n}");
            let mut p = Parser::new(&ours, 0, "t");
            assert_eq!(p.uint("n").unwrap(), n);
        }
        for len in [0usize, 31, 32, 255, 256, 70000] {
            let s = "x".repeat(len);
            let mut ours = Vec::new();
            write_str(&mut ours, &s);
            assert_eq!(ours, rmp_serde::to_vec(&s).unwrap(), "{len}");
        }
        for n in [0u32, 15, 16, 0xffff, 0x1_0000] {
            let mut a = Vec::new();
            write_array_len(&mut a, n);
            let mut m = Vec::new();
            write_map_len(&mut m, n);
            let ra = rmp_serde::to_vec(&vec![(); n as usize]).unwrap();
            let map: std::collections::BTreeMap<u32, ()> = (0..n).map(|k| (k, ())).collect();
            let rm = rmp_serde::to_vec(&map).unwrap();
            assert_eq!(a, ra[..a.len()]);
            assert_eq!(m, rm[..m.len()]);
        }
    }

    #[test]
    fn refuses_lengths_beyond_the_payload() {
        // str32 announcing 4 GiB.
        let e = check(&[0xdb, 0xff, 0xff, 0xff, 0xff, b'a']).unwrap_err();
        assert!(e.to_string().contains("remain"), "{e}");
        // array32 of 2^32-1 elements in 5 bytes: over the container limit.
        let e = check(&[0xdd, 0xff, 0xff, 0xff, 0xff]).unwrap_err();
        assert!(matches!(e, StreamError::LimitExceeded { .. }), "{e}");
        // map16 of 100 pairs with 3 bytes left.
        let e = check(&[0xde, 0x00, 0x64, 1, 2, 3]).unwrap_err();
        assert!(e.to_string().contains("announces 200 values"), "{e}");
        // Truncated integer.
        assert!(check(&[0xcf, 0, 0]).is_err());
        // Nothing at all.
        assert!(check(&[]).is_err());
    }

    #[test]
    fn refuses_deep_nesting_without_recursing() {
        let mut deep = vec![0x91u8; 100_000];
        deep.push(0xc0);
        let e = check(&deep).unwrap_err();
        assert!(
            matches!(
                e,
                StreamError::LimitExceeded {
                    what: "MessagePack nesting depth",
                    ..
                }
            ),
            "{e}"
        );
        let mut ok = vec![0x91u8; 32];
        ok.push(0xc0);
        check(&ok).unwrap();
        ok.insert(0, 0x91);
        assert!(check(&ok).is_err());
    }

    #[test]
    fn refuses_ext_reserved_bad_utf8_and_trailing_bytes() {
        assert!(check(&[0xd4, 1, 2]).is_err());
        assert!(check(&[0xc1]).is_err());
        assert!(check(&[0xa2, 0xff, 0xfe]).is_err());
        let e = check(&[0xc0, 0xc0]).unwrap_err();
        assert!(e.to_string().contains("1 bytes after the value"), "{e}");
    }

    proptest::proptest! {
        /// The fast walk and the slow walk agree on every input.
        #[test]
        fn fast_and_slow_walks_agree(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), depth in 0u32..5) {
            let limits = Limits { max_depth: depth, max_container_len: 7, ..Limits::default() };
            let fast = skip_fast(&bytes, 0, &limits);
            let mut p = Parser::new(&bytes, 0, "t");
            let slow = p.skip_value_slow(&limits).ok().map(|r| r.end);
            proptest::prop_assert_eq!(fast, slow);
        }

        /// And on valid values made by rmp-serde.
        #[test]
        fn fast_walk_accepts_rmp_values(v in proptest::collection::vec((proptest::prelude::any::<u64>(), ".{0,40}", proptest::collection::vec(proptest::prelude::any::<i16>(), 0..20)), 0..20)) {
            let bytes = rmp_serde::to_vec_named(&v).unwrap();
            proptest::prop_assert_eq!(skip_fast(&bytes, 0, &Limits::default()), Some(bytes.len()));
        }
    }

    #[test]
    fn uint_refuses_negative_and_oversized() {
        let mut p = Parser::new(&[0xff], 0, "t");
        assert!(p.uint("n").is_err());
        let mut p = Parser::new(&[0xcf, 0, 0, 0, 1, 0, 0, 0, 0], 0, "t");
        assert!(p.u32("n").is_err());
        let mut p = Parser::new(&[0xd0, 5], 0, "t");
        assert_eq!(p.uint("n").unwrap(), 5);
    }
}
