//! Decoding of the VMX opcode space (to tell vector instructions from
//! illegal words) and of POWER10 prefixed instructions.

use crate::cpu::ZERO_REG;
use crate::decode::{D, K};

fn ra0(r: u32) -> u8 {
    if r == 0 {
        ZERO_REG as u8
    } else {
        r as u8
    }
}

/// Whether an opcode-4 word is a VMX instruction (so that it raises
/// "vector unavailable" rather than an illegal-instruction interrupt).
pub(crate) fn vmx_known(w: u32) -> bool {
    let va = w & 0x3f;
    if (32..=47).contains(&va) || (59..=63).contains(&va) {
        return true;
    }
    let vx = w & 0x7ff;
    // VC-form compares: xo in the low 10 bits, Rc at 0x400.
    let vc = w & 0x3ff;
    const VX: &[u32] = &[
        0, 64, 128, 192, 256, 320, 384, 512, 576, 640, 768, 832, 896, 1024, 1088, 1152, 1216, 1280,
        1344, 1408, 1536, 1600, 1664, 1792, 1856, 1920, 1028, 1092, 1156, 1220, 1284, 1348, 1412,
        1668, 652, 524, 588, 780, 844, 908, 1540, 1604, 2, 66, 130, 194, 258, 322, 386, 450, 514,
        578, 642, 706, 770, 834, 898, 962, 4, 68, 132, 196, 260, 324, 388, 452, 516, 580, 644, 708,
        772, 836, 900, 964, 12, 76, 140, 268, 332, 396, 14, 78, 142, 206, 270, 334, 398, 462, 526,
        590, 654, 718, 8, 72, 136, 200, 264, 328, 392, 456, 1026, 1090, 1154, 1282, 1346, 1410,
        1544, 1608, 1672, 1800, 1928, 10, 74, 138, 202, 266, 330, 394, 458, 522, 586, 650, 714,
        778, 842, 906, 970,
    ];
    const VC: &[u32] = &[
        6, 70, 134, 199, 198, 518, 582, 646, 710, 774, 838, 902, 966, 7, 71, 135, 263, 327, 391,
        455, 454, 966,
    ];
    VX.contains(&vx) || VC.contains(&vc)
}

pub(crate) fn decode_prefixed(p: u32, s: u32) -> D {
    let mut d = D::new(K::Illegal);
    d.len = 8;
    d.x = 1; // an illegal prefixed pair reports SRR1[PREFIXED]
    let ptype = (p >> 24) & 3;
    let r = (p >> 20) & 1;
    let imm18 = (p & 0x3ffff) as u64;
    let op = s >> 26;
    let rt = (s >> 21) & 31;
    let ra = (s >> 16) & 31;
    let imm = ((((imm18 << 16) | (s & 0xffff) as u64) << 30) as i64 >> 30) as u64;
    if r == 1 && ra != 0 {
        return d;
    }
    d.rt = rt as u8;
    d.ra = ra0(ra);
    d.imm = imm;
    let pcrel = if r == 1 { 0x20 } else { 0 };
    let (k, x) = match (ptype, op) {
        (2, 14) => (K::Paddi, pcrel),
        (2, 32) => (K::PLoad, 4 | pcrel),
        (2, 34) => (K::PLoad, 1 | pcrel),
        (2, 40) => (K::PLoad, 2 | pcrel),
        (2, 42) => (K::PLoad, 2 | 0x10 | pcrel),
        (2, 36) => (K::PStore, 4 | pcrel),
        (2, 38) => (K::PStore, 1 | pcrel),
        (2, 44) => (K::PStore, 2 | pcrel),
        (0, 41) => (K::PLoad, 4 | 0x10 | pcrel),
        (0, 57) => (K::PLoad, 8 | pcrel),
        (0, 61) => (K::PStore, 8 | pcrel),
        (2, 48..=55)
        | (0, 42..=43)
        | (0, 46..=47)
        | (0, 50..=51)
        | (0, 54..=55)
        | (0, 58..=59)
        | (0, 62..=63) => (K::FpUnavail, 0),
        _ => return d,
    };
    d.k = k;
    d.x = x;
    d
}
