//! Fixed-point helpers: carries and overflows, rotates, divides (with
//! QEMU's results for the ISA's undefined cases), bit counting.

/// `a + b + c` with (carry out of 64 bits, carry out of 32 bits,
/// overflow 64, overflow 32).
#[inline(always)]
pub(crate) fn add3(a: u64, b: u64, c: u64) -> (u64, bool, bool, bool, bool) {
    let (s1, c1) = a.overflowing_add(b);
    let (r, c2) = s1.overflowing_add(c);
    let ca32 = ((a & 0xffff_ffff) + (b & 0xffff_ffff) + c) >> 32 != 0;
    let ov = ((a ^ r) & (b ^ r)) >> 63 != 0;
    let ov32 = ((a ^ r) & (b ^ r)) >> 31 & 1 != 0;
    (r, c1 || c2, ca32, ov, ov32)
}

/// 32-bit rotate left, replicated into both halves (ROTL32).
#[inline(always)]
pub(crate) fn rotl32(x: u64, n: u32) -> u64 {
    let r = (x as u32).rotate_left(n & 31) as u64;
    r | (r << 32)
}

/// Signed 32-bit divide as QEMU computes it (invalid -> divide by 1),
/// zero-extended; and the overflow flag.
pub(crate) fn divw(a: u64, b: u64) -> (u64, bool) {
    let (a, b) = (a as i32, b as i32);
    let bad = b == 0 || (a == i32::MIN && b == -1);
    let q = if bad { a } else { a / b };
    (q as u32 as u64, bad)
}

/// Unsigned 32-bit divide (QEMU's result when dividing by zero).
pub(crate) fn divwu(a: u64, b: u64) -> (u64, bool) {
    let (a, b) = (a as u32, b as u32);
    let bad = b == 0;
    (if bad { a } else { a / b } as u64, bad)
}

/// Signed 64-bit divide (QEMU's result when invalid).
pub(crate) fn divd(a: u64, b: u64) -> (u64, bool) {
    let (a, b) = (a as i64, b as i64);
    let bad = b == 0 || (a == i64::MIN && b == -1);
    (if bad { a } else { a / b } as u64, bad)
}

/// Unsigned 64-bit divide.
pub(crate) fn divdu(a: u64, b: u64) -> (u64, bool) {
    let bad = b == 0;
    (if bad { a } else { a / b }, bad)
}

/// Divide word extended (signed): (`a[32:63]` || 0^32) / `b[32:63]`.
pub(crate) fn divwe(a: u64, b: u64, signed: bool) -> (u64, bool) {
    if signed {
        let n = ((a as i32 as i64) << 32) as i128;
        let d = b as i32 as i128;
        if d == 0 {
            return (0, true);
        }
        let q = n / d;
        if q < i32::MIN as i128 || q > i32::MAX as i128 {
            return (0, true);
        }
        // QEMU sign-extends the (low-word) quotient.
        (q as i32 as i64 as u64, false)
    } else {
        let n = ((a & 0xffff_ffff) << 32) as u128;
        let d = (b & 0xffff_ffff) as u128;
        if d == 0 {
            return (0, true);
        }
        let q = n / d;
        if q > u32::MAX as u128 {
            return (0, true);
        }
        (q as u64, false)
    }
}

/// Divide doubleword extended: (a || 0^64) / b.
pub(crate) fn divde(a: u64, b: u64, signed: bool) -> (u64, bool) {
    if signed {
        let n = (a as i64 as i128) << 64;
        let d = b as i64 as i128;
        if d == 0 {
            return (0, true);
        }
        let q = n.checked_div(d).unwrap_or(i128::MAX);
        if q < i64::MIN as i128 || q > i64::MAX as i128 {
            return (0, true);
        }
        (q as u64, false)
    } else {
        let n = (a as u128) << 64;
        let d = b as u128;
        if d == 0 {
            return (0, true);
        }
        let q = n / d;
        if q > u64::MAX as u128 {
            return (0, true);
        }
        (q as u64, false)
    }
}

/// Modulo helpers (QEMU: invalid cases give 0).
pub(crate) fn modsw(a: u64, b: u64) -> u64 {
    let (a, b) = (a as i32, b as i32);
    if b == 0 || (a == i32::MIN && b == -1) {
        0
    } else {
        (a % b) as i64 as u64
    }
}

/// Unsigned word modulo.
pub(crate) fn moduw(a: u64, b: u64) -> u64 {
    let (a, b) = (a as u32, b as u32);
    if b == 0 {
        0
    } else {
        (a % b) as u64
    }
}

/// Signed doubleword modulo.
pub(crate) fn modsd(a: u64, b: u64) -> u64 {
    let (a, b) = (a as i64, b as i64);
    if b == 0 || (a == i64::MIN && b == -1) {
        0
    } else {
        (a % b) as u64
    }
}

/// Unsigned doubleword modulo.
pub(crate) fn modud(a: u64, b: u64) -> u64 {
    a.checked_rem(b).unwrap_or(0)
}

/// Population count per byte.
pub(crate) fn popcntb(x: u64) -> u64 {
    let mut r = 0;
    for i in 0..8 {
        r |= (((x >> (8 * i)) & 0xff).count_ones() as u64) << (8 * i);
    }
    r
}

/// Population count per word.
pub(crate) fn popcntw(x: u64) -> u64 {
    ((x >> 32).count_ones() as u64) << 32 | (x & 0xffff_ffff).count_ones() as u64
}

/// Parity of the low bit of each byte, per word.
pub(crate) fn prtyw(x: u64) -> u64 {
    let p = |w: u64| (w ^ (w >> 8) ^ (w >> 16) ^ (w >> 24)) & 1;
    (p(x >> 32) << 32) | p(x & 0xffff_ffff)
}

/// Parity of the low bit of each byte of the doubleword.
pub(crate) fn prtyd(x: u64) -> u64 {
    let mut p = 0;
    for i in 0..8 {
        p ^= (x >> (8 * i)) & 1;
    }
    p
}

/// Byte compare: 0xff where bytes are equal.
pub(crate) fn cmpb(a: u64, b: u64) -> u64 {
    let mut r = 0;
    for i in 0..8 {
        let m = 0xffu64 << (8 * i);
        if a & m == b & m {
            r |= m;
        }
    }
    r
}

/// Bit permute doubleword.
pub(crate) fn bpermd(rs: u64, rb: u64) -> u64 {
    let mut r = 0;
    for i in 0..8 {
        let idx = (rs >> (8 * (7 - i))) & 0xff;
        if idx < 64 && (rb >> (63 - idx)) & 1 != 0 {
            r |= 1 << (7 - i);
        }
    }
    r
}

/// Shift right algebraic word with (result, CA).
pub(crate) fn sraw(rs: u64, n: u64) -> (u64, bool) {
    let s = rs as i32;
    if n & 0x20 != 0 {
        let r = (s >> 31) as i64 as u64;
        (r, s < 0)
    } else {
        let n = (n & 31) as u32;
        let r = (s >> n) as i64 as u64;
        let lost = n != 0 && (s as u32) << (32 - n) != 0;
        (r, s < 0 && lost)
    }
}

/// Shift right algebraic doubleword with (result, CA).
pub(crate) fn srad(rs: u64, n: u64) -> (u64, bool) {
    let s = rs as i64;
    if n & 0x40 != 0 {
        ((s >> 63) as u64, s < 0)
    } else {
        let n = (n & 63) as u32;
        let r = (s >> n) as u64;
        let lost = n != 0 && (s as u64) << (64 - n) != 0;
        (r, s < 0 && lost)
    }
}

/// Trap condition check (TO bits: lt, gt, eq, ltu, gtu).
pub(crate) fn trap_cond(to: u8, a: i64, b: i64) -> bool {
    (to & 0x10 != 0 && a < b)
        || (to & 0x08 != 0 && a > b)
        || (to & 0x04 != 0 && a == b)
        || (to & 0x02 != 0 && (a as u64) < (b as u64))
        || (to & 0x01 != 0 && (a as u64) > (b as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries() {
        let (r, ca, ca32, ov, _) = add3(u64::MAX, 1, 0);
        assert_eq!((r, ca, ca32, ov), (0, true, true, false));
        let (r, ca, ca32, ov, ov32) = add3(0x7fff_ffff, 1, 0);
        assert_eq!(
            (r, ca, ca32, ov, ov32),
            (0x8000_0000, false, false, false, true)
        );
        let (_, _, _, ov, _) = add3(i64::MAX as u64, 1, 0);
        assert!(ov);
    }

    #[test]
    fn divides() {
        assert_eq!(divw(7, (-2i64) as u64), ((-3i32) as u32 as u64, false));
        assert_eq!(divw(0x8000_0000, u64::MAX), (0x8000_0000, true));
        assert_eq!(divwu(5, 0), (5, true));
        assert_eq!(divd(100, 0), (100, true));
        assert_eq!(divde(1, 2, false), (1 << 63, false));
        assert_eq!(divwe(1, 2, false), (0x8000_0000, false));
        assert_eq!(modsw((-7i64) as u64, 2), (-1i64) as u64);
        assert_eq!(modud(7, 0), 0);
    }

    #[test]
    fn shifts() {
        assert_eq!(sraw(0xffff_fff1, 4), (u64::MAX, true));
        assert_eq!(sraw(0xffff_fff0, 4), (u64::MAX, false));
        assert_eq!(sraw(0x8000_0000, 32), (u64::MAX, true));
        assert_eq!(
            srad(0x8000_0000_0000_0001, 1),
            (0xc000_0000_0000_0000, true)
        );
        assert_eq!(rotl32(0x8000_0001, 1), 0x0000_0003_0000_0003);
    }

    #[test]
    fn bit_counts() {
        assert_eq!(popcntb(0x0301), 0x0201);
        assert_eq!(popcntw(0xffff_ffff_0000_0001), (32 << 32) | 1);
        assert_eq!(prtyw(0x0000_0101_0000_0001), 1);
        assert_eq!(prtyd(0x0101_0101_0101_0101), 0);
        assert_eq!(cmpb(0x1122, 0x1133), 0xffff_ffff_ffff_ff00);
        assert_eq!(bpermd(0x0001_0203_0405_0607, 0xff00_0000_0000_0000), 0xff);
        assert!(trap_cond(0x04, 5, 5) && !trap_cond(0x10, 5, 5));
    }
}
