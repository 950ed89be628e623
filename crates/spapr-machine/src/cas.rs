//! `ibm,client-architecture-support` (CAS): option vectors and the
//! negotiation of the interrupt mode.
//!
//! The guest calls hcall `KVMPPC_H_CAS` (0xF002) with r4 = the architecture
//! vector (PVR mask/value pairs, then the option vector table), r5/r6 = a
//! buffer for the updated device tree. This module parses what the guest
//! wrote and decides; the machine applies the decision (switches the active
//! controller, rebuilds the tree).

use std::fmt;

/// Most bytes one option vector may have (its length byte is 8 bits).
pub const OV_MAX_BYTES: usize = 256;
/// Most PVR pairs QEMU scans before giving up on a terminator.
pub const MAX_PVR_PAIRS: usize = 512;

/// OV5 byte 23: interrupt controller.
pub const OV5_INTC_BYTE: usize = 23;
/// OV5 byte 23 bit 0: "either" (only the platform may say it).
pub const OV5_XIVE_BOTH: u8 = 0x80;
/// OV5 byte 23 bit 1: XIVE exploitation.
pub const OV5_XIVE_EXPLOIT: u8 = 0x40;
/// OV5 byte 24: MMU.
pub const OV5_MMU_BYTE: usize = 24;
/// OV5 byte 24 bit 0: hash and radix (only the platform may say it).
pub const OV5_MMU_BOTH: u8 = 0x80;
/// OV5 byte 24 bit 1: radix (ISA 3.00).
pub const OV5_MMU_RADIX_300: u8 = 0x40;
/// OV1 byte 3 bit 0: the guest supports ISA 3.00.
pub const OV1_PPC_3_00: (usize, u8) = (3, 0x80);

/// An option vector: `bytes[n - 1]` is byte `n` in PAPR's 1-based
/// numbering (QEMU's `OV_BIT(byte, bit)`).
#[derive(Clone, PartialEq, Eq)]
pub struct OptionVector {
    bytes: [u8; OV_MAX_BYTES],
}

impl Default for OptionVector {
    fn default() -> Self {
        Self {
            bytes: [0; OV_MAX_BYTES],
        }
    }
}

impl fmt::Debug for OptionVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let used = self.len();
        write!(f, "OptionVector({:02x?})", &self.bytes[..used])
    }
}

impl OptionVector {
    /// A vector from its payload bytes (byte 1 first).
    pub fn from_bytes(payload: &[u8]) -> Self {
        let mut v = Self::default();
        let n = payload.len().min(OV_MAX_BYTES);
        v.bytes[..n].copy_from_slice(&payload[..n]);
        v
    }

    /// Byte `n` (1-based); 0 outside the vector.
    pub fn byte(&self, n: usize) -> u8 {
        n.checked_sub(1)
            .and_then(|i| self.bytes.get(i))
            .copied()
            .unwrap_or(0)
    }

    /// Sets byte `n` (1-based); ignored outside the vector.
    pub fn set_byte(&mut self, n: usize, value: u8) {
        if let Some(b) = n.checked_sub(1).and_then(|i| self.bytes.get_mut(i)) {
            *b = value;
        }
    }

    /// Whether every bit of `mask` is set in byte `n`.
    pub fn test(&self, n: usize, mask: u8) -> bool {
        self.byte(n) & mask == mask
    }

    /// The bits set in both vectors (QEMU's `spapr_ovec_intersect`).
    pub fn intersect(&self, other: &Self) -> Self {
        let mut v = Self::default();
        for (i, b) in v.bytes.iter_mut().enumerate() {
            *b = self.bytes[i] & other.bytes[i];
        }
        v
    }

    /// Whether no bit is set.
    pub fn is_empty(&self) -> bool {
        self.bytes.iter().all(|&b| b == 0)
    }

    /// Number of bytes up to the last non-zero one.
    pub fn len(&self) -> usize {
        self.bytes
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |i| i + 1)
    }

    /// The `/chosen/ibm,architecture-vec-5` encoding: a length byte (bytes
    /// − 1), then byte `n` at offset `n`. At least `min_bytes` payload bytes
    /// are written, so that the guest can look at byte 23 (it ignores a
    /// shorter property).
    pub fn to_dt(&self, min_bytes: usize) -> Vec<u8> {
        let n = self.len().max(min_bytes).clamp(1, OV_MAX_BYTES);
        let mut out = Vec::with_capacity(n + 1);
        out.push((n - 1) as u8);
        out.extend_from_slice(&self.bytes[..n]);
        out
    }

    /// The 2048-bit bitmap as 32 big-endian-ordered 64-bit words, bit
    /// `OV_BIT(byte, bit)` of QEMU's `spapr_option_vector` (migration form).
    pub fn to_words(&self) -> Vec<u64> {
        self.bytes
            .chunks(8)
            .map(|c| {
                // QEMU's bitmap bit b lives in word b / 64 at bit b % 64, and
                // OV_BIT maps byte n bit 0 (the MSB) to bit (n-1)*8.
                c.iter().enumerate().fold(0u64, |w, (i, &byte)| {
                    w | (u64::from(byte.reverse_bits()) << (i * 8))
                })
            })
            .collect()
    }

    /// Inverse of [`OptionVector::to_words`]; `None` unless 32 words.
    pub fn from_words(words: &[u64]) -> Option<Self> {
        if words.len() != OV_MAX_BYTES / 8 {
            return None;
        }
        let mut v = Self::default();
        for (w, chunk) in words.iter().zip(v.bytes.chunks_mut(8)) {
            for (i, b) in chunk.iter_mut().enumerate() {
                *b = ((w >> (i * 8)) as u8).reverse_bits();
            }
        }
        Some(v)
    }
}

/// Reads guest memory for the parser; implemented by the machine over guest
/// RAM so that the parser never touches memory directly.
pub trait CasMemory {
    /// Reads `buf.len()` bytes at guest-physical `addr`; false if any byte
    /// lies outside RAM.
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool;
}

impl CasMemory for [u8] {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        let Ok(start) = usize::try_from(addr) else {
            return false;
        };
        match start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
        {
            Some(src) => {
                buf.copy_from_slice(src);
                true
            }
            None => false,
        }
    }
}

/// What the guest sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasRequest {
    /// PVR (mask, value) pairs before the terminator.
    pub pvrs: Vec<(u32, u32)>,
    /// Option vector 1, if present.
    pub ov1: Option<OptionVector>,
    /// Option vector 5, if present.
    pub ov5: Option<OptionVector>,
}

/// Why the architecture vector could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CasParseError {
    /// A read fell outside guest RAM.
    #[error("CAS vector at {0:#x} is outside guest memory")]
    BadAddress(u64),
}

fn read_u8<M: CasMemory + ?Sized>(mem: &M, addr: u64) -> Result<u8, CasParseError> {
    let mut b = [0u8];
    if mem.read(addr, &mut b) {
        Ok(b[0])
    } else {
        Err(CasParseError::BadAddress(addr))
    }
}

fn read_be32<M: CasMemory + ?Sized>(mem: &M, addr: u64) -> Result<u32, CasParseError> {
    let mut b = [0u8; 4];
    if mem.read(addr, &mut b) {
        Ok(u32::from_be_bytes(b))
    } else {
        Err(CasParseError::BadAddress(addr))
    }
}

/// Parses the architecture vector at `addr`: PVR pairs up to the terminator
/// (a pair with a value bit outside its mask, as QEMU tests it; at most
/// [`MAX_PVR_PAIRS`]), then the option vector table (first byte = number of
/// vectors − 1, each vector a length byte (length − 1) and its bytes).
pub fn parse_request<M: CasMemory + ?Sized>(
    mem: &M,
    addr: u64,
) -> Result<CasRequest, CasParseError> {
    let mut pvrs = Vec::new();
    let mut at = addr;
    for _ in 0..MAX_PVR_PAIRS {
        let mask = read_be32(mem, at)?;
        let value = read_be32(mem, at.wrapping_add(4))?;
        at = at.wrapping_add(8);
        if !mask & value != 0 {
            break;
        }
        pvrs.push((mask, value));
    }
    let table = at;
    let count = usize::from(read_u8(mem, table)?) + 1;
    let mut ov1 = None;
    let mut ov5 = None;
    let mut cursor = table.wrapping_add(1);
    for n in 1..=count {
        let len = usize::from(read_u8(mem, cursor)?) + 1;
        let mut payload = vec![0u8; len];
        if !mem.read(cursor.wrapping_add(1), &mut payload) {
            return Err(CasParseError::BadAddress(cursor.wrapping_add(1)));
        }
        match n {
            1 => ov1 = Some(OptionVector::from_bytes(&payload)),
            5 => ov5 = Some(OptionVector::from_bytes(&payload)),
            _ => {}
        }
        cursor = cursor.wrapping_add(1 + len as u64);
        if n >= 5 {
            break;
        }
    }
    Ok(CasRequest { pvrs, ov1, ov5 })
}

/// What the machine offers, for the negotiation.
#[derive(Debug, Clone)]
pub struct CasPlatform {
    /// The platform's OV5 (`spapr->ov5`): the bits it supports.
    pub ov5: OptionVector,
    /// The boot vCPU's real PVR.
    pub cpu_pvr: u32,
    /// Logical PVRs the CPU can run as, most capable last
    /// (e.g. 0x0f000004 = ISA 2.07, 0x0f000005 = ISA 3.00).
    pub compat_pvrs: Vec<u32>,
    /// The `max-cpu-compat` logical PVR, if set.
    pub max_compat: Option<u32>,
    /// Backends built: XICS.
    pub has_xics: bool,
    /// Backends built: XIVE.
    pub has_xive: bool,
    /// Whether another vCPU is running (CAS must be called with only the
    /// boot vCPU active).
    pub others_running: bool,
}

/// The negotiation's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasOutcome {
    /// Logical PVR to set on every vCPU, or `None` for raw mode.
    pub compat_pvr: Option<u32>,
    /// The negotiated OV5 (`ov5_cas`).
    pub ov5_cas: OptionVector,
    /// Whether the guest chose XIVE exploitation.
    pub xive: bool,
    /// Whether the guest chose the radix MMU.
    pub radix: bool,
    /// Whether the guest is pre-ISA 3.00 (OV1).
    pub pre_isa3_guest: bool,
}

/// A CAS refusal: either an hcall error the guest sees, or a fatal error
/// QEMU ends the VM with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CasError {
    /// Other vCPUs run: `H_MULTI_THREADS_ACTIVE`, with QEMU's warning.
    #[error("guest has multiple active vCPUs at CAS, which is not allowed")]
    MultipleVcpus,
    /// No usable PVR: `H_HARDWARE`.
    #[error("Couldn't negotiate a suitable PVR during CAS")]
    NoPvr,
    /// Missing vector 1: `H_PARAMETER`.
    #[error("guest didn't provide option vector 1")]
    NoOv1,
    /// Missing vector 5: `H_PARAMETER`.
    #[error("guest didn't provide option vector 5")]
    NoOv5,
    /// The vector could not be read: `H_PARAMETER`.
    #[error(transparent)]
    Parse(#[from] CasParseError),
    /// Fatal: both MMU modes requested.
    #[error("guest requested hash and radix MMU, which is invalid.")]
    InvalidMmu,
    /// Fatal: byte 23 bit 0 set by the guest.
    #[error("guest requested an invalid interrupt mode")]
    InvalidIntMode,
    /// Fatal: XIVE asked, not built.
    #[error("Guest requested unavailable interrupt mode (XIVE), try the ic-mode=xive or ic-mode=dual machine property")]
    XiveUnavailable,
    /// Fatal: XICS asked, not built.
    #[error("Guest requested unavailable interrupt mode (XICS), either don't set the ic-mode machine property or try ic-mode=xics or ic-mode=dual")]
    XicsUnavailable,
}

impl CasError {
    /// Whether QEMU ends the VM on this error (instead of returning an hcall
    /// error to the guest).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::InvalidMmu | Self::InvalidIntMode | Self::XiveUnavailable | Self::XicsUnavailable
        )
    }

    /// The hcall return code for a non-fatal error.
    pub fn hcall_ret(&self) -> i64 {
        use spapr_irq::papr::h;
        match self {
            Self::MultipleVcpus => h::MULTI_THREADS_ACTIVE,
            Self::NoPvr => h::HARDWARE,
            _ => h::PARAMETER,
        }
    }
}

/// Picks the logical PVR as QEMU's `cas_check_pvr` does: the real PVR
/// matching a pair means raw mode is possible; otherwise the most capable
/// listed logical PVR the CPU supports and `max_compat` allows.
fn negotiate_pvr(req: &CasRequest, p: &CasPlatform) -> Result<Option<u32>, CasError> {
    let mut raw = false;
    let mut best: Option<u32> = None;
    let rank = |pvr: u32| p.compat_pvrs.iter().position(|&c| c == pvr);
    let max_rank = p.max_compat.and_then(rank);
    for &(mask, value) in &req.pvrs {
        if p.cpu_pvr & mask == value & mask {
            raw = true;
        } else if let Some(r) = rank(value) {
            let allowed = max_rank.is_none_or(|m| r <= m);
            let better = best.and_then(rank).is_none_or(|b| r > b);
            if allowed && better {
                best = Some(value);
            }
        }
    }
    if best.is_none() && (!raw || p.max_compat.is_some()) {
        return Err(CasError::NoPvr);
    }
    Ok(best)
}

/// Runs the negotiation (QEMU's `do_client_architecture_support`, the
/// interrupt and MMU parts).
pub fn negotiate(req: &CasRequest, p: &CasPlatform) -> Result<CasOutcome, CasError> {
    if p.others_running {
        return Err(CasError::MultipleVcpus);
    }
    let compat_pvr = negotiate_pvr(req, p)?;
    let ov1 = req.ov1.as_ref().ok_or(CasError::NoOv1)?;
    let ov5 = req.ov5.as_ref().ok_or(CasError::NoOv5)?;
    if ov5.test(OV5_MMU_BYTE, OV5_MMU_BOTH) {
        return Err(CasError::InvalidMmu);
    }
    if ov5.test(OV5_INTC_BYTE, OV5_XIVE_BOTH) {
        return Err(CasError::InvalidIntMode);
    }
    let radix = ov5.test(OV5_MMU_BYTE, OV5_MMU_RADIX_300);
    let xive = ov5.test(OV5_INTC_BYTE, OV5_XIVE_EXPLOIT);
    let ov5_cas = p.ov5.intersect(ov5);
    if xive && !p.has_xive {
        return Err(CasError::XiveUnavailable);
    }
    if !xive && !p.has_xics {
        return Err(CasError::XicsUnavailable);
    }
    Ok(CasOutcome {
        compat_pvr,
        ov5_cas,
        xive,
        radix,
        pre_isa3_guest: !ov1.test(OV1_PPC_3_00.0, OV1_PPC_3_00.1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P9: u32 = 0x004e_1202;

    /// Builds an architecture vector the way Linux's prom_init lays it out.
    fn vector(pvrs: &[(u32, u32)], ovs: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        for &(m, p) in pvrs {
            v.extend_from_slice(&m.to_be_bytes());
            v.extend_from_slice(&p.to_be_bytes());
        }
        v.extend_from_slice(&0u32.to_be_bytes());
        v.extend_from_slice(&0xffff_ffffu32.to_be_bytes());
        v.push((ovs.len() - 1) as u8);
        for ov in ovs {
            v.push((ov.len() - 1) as u8);
            v.extend_from_slice(ov);
        }
        v
    }

    fn ov5_with(byte23: u8, byte24: u8) -> Vec<u8> {
        let mut ov5 = vec![0u8; 26];
        ov5[22] = byte23;
        ov5[23] = byte24;
        ov5
    }

    fn platform(xics: bool, xive: bool) -> CasPlatform {
        let mut ov5 = OptionVector::default();
        ov5.set_byte(OV5_INTC_BYTE, if xive { OV5_XIVE_EXPLOIT } else { 0 });
        ov5.set_byte(OV5_MMU_BYTE, OV5_MMU_RADIX_300);
        CasPlatform {
            ov5,
            cpu_pvr: P9,
            compat_pvrs: vec![0x0f00_0003, 0x0f00_0004, 0x0f00_0005],
            max_compat: None,
            has_xics: xics,
            has_xive: xive,
            others_running: false,
        }
    }

    fn request(byte23: u8) -> CasRequest {
        let ov1 = [0u8, 0, 0x80];
        let ov5 = ov5_with(byte23, 0x40);
        let mem = vector(
            &[(0xffff_0000, 0x004e_0000), (0xffff_ffff, 0x0f00_0005)],
            &[&ov1, &[0], &[0], &[0], &ov5],
        );
        parse_request(mem.as_slice(), 0).unwrap()
    }

    #[test]
    fn parses_linux_style_vectors() {
        let req = request(OV5_XIVE_EXPLOIT);
        assert_eq!(req.pvrs.len(), 2);
        assert!(req.ov1.unwrap().test(3, 0x80));
        assert_eq!(req.ov5.unwrap().byte(23), 0x40);
    }

    #[test]
    fn xive_chosen_in_dual_mode() {
        let out = negotiate(&request(OV5_XIVE_EXPLOIT), &platform(true, true)).unwrap();
        assert!(out.xive && out.radix && !out.pre_isa3_guest);
        assert_eq!(out.ov5_cas.byte(23), OV5_XIVE_EXPLOIT);
        assert_eq!(out.compat_pvr, Some(0x0f00_0005));
    }

    #[test]
    fn refusals_use_qemu_words() {
        assert_eq!(
            negotiate(&request(OV5_XIVE_EXPLOIT), &platform(true, false)).unwrap_err().to_string(),
            "Guest requested unavailable interrupt mode (XIVE), try the ic-mode=xive or ic-mode=dual machine property"
        );
        assert_eq!(
            negotiate(&request(0), &platform(false, true)).unwrap_err().to_string(),
            "Guest requested unavailable interrupt mode (XICS), either don't set the ic-mode machine property or try ic-mode=xics or ic-mode=dual"
        );
        let e = negotiate(&request(OV5_XIVE_BOTH), &platform(true, true)).unwrap_err();
        assert_eq!(e.to_string(), "guest requested an invalid interrupt mode");
        assert!(e.is_fatal());
        let mut p = platform(true, true);
        p.others_running = true;
        let e = negotiate(&request(0), &p).unwrap_err();
        assert_eq!(e.hcall_ret(), -9005);
        assert!(!e.is_fatal());
    }

    #[test]
    fn missing_vectors_are_parameter_errors() {
        let mem = vector(&[(0xffff_ffff, P9)], &[&[0, 0, 0x80]]);
        let req = parse_request(mem.as_slice(), 0).unwrap();
        let e = negotiate(&req, &platform(true, true)).unwrap_err();
        assert_eq!(e, CasError::NoOv5);
        assert_eq!(e.hcall_ret(), spapr_irq::papr::h::PARAMETER);
    }

    #[test]
    fn vectors_outside_memory_are_refused() {
        let mem = vector(&[(0xffff_ffff, P9)], &[&[0, 0, 0x80]]);
        let cut = &mem[..mem.len() - 1];
        assert!(matches!(
            parse_request(cut, 0),
            Err(CasParseError::BadAddress(_))
        ));
        assert!(parse_request(mem.as_slice(), u64::MAX - 2).is_err());
    }

    #[test]
    fn pvr_negotiation_respects_max_compat() {
        let ov1 = [0u8, 0, 0x80];
        let ov5 = ov5_with(0, 0x40);
        let pairs = [(0xffff_ffff, 0x0f00_0004), (0xffff_ffff, 0x0f00_0005)];
        let mem = vector(&pairs, &[&ov1, &[0], &[0], &[0], &ov5]);
        let req = parse_request(mem.as_slice(), 0).unwrap();
        let mut p = platform(true, true);
        p.cpu_pvr = 0x0080_0100; // not listed: no raw mode
        assert_eq!(negotiate(&req, &p).unwrap().compat_pvr, Some(0x0f00_0005));
        p.max_compat = Some(0x0f00_0004);
        assert_eq!(negotiate(&req, &p).unwrap().compat_pvr, Some(0x0f00_0004));
        p.max_compat = Some(0x0f00_0003);
        assert_eq!(negotiate(&req, &p).unwrap_err(), CasError::NoPvr);
        // Raw mode: the real PVR is listed and no maximum is set.
        p.max_compat = None;
        p.cpu_pvr = P9;
        let raw = vector(
            &[(0xffff_0000, 0x004e_0000)],
            &[&ov1, &[0], &[0], &[0], &ov5],
        );
        let req = parse_request(raw.as_slice(), 0).unwrap();
        assert_eq!(negotiate(&req, &p).unwrap().compat_pvr, None);
        p.max_compat = Some(0x0f00_0005);
        assert_eq!(negotiate(&req, &p).unwrap_err(), CasError::NoPvr);
    }

    #[test]
    fn dt_encoding_and_words_round_trip() {
        let mut v = OptionVector::default();
        v.set_byte(23, 0x40);
        let dt = v.to_dt(24);
        assert_eq!(dt.len(), 25);
        assert_eq!(dt[0], 23);
        assert_eq!(dt[23], 0x40);
        let w = v.to_words();
        assert_eq!(w.len(), 32);
        // OV_BIT(23, 1) = 22 * 8 + 1 = 177 -> word 2, bit 49.
        assert_eq!(w[2], 1 << 49);
        assert_eq!(OptionVector::from_words(&w), Some(v));
    }
}
