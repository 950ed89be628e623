//! Decoding of primary opcode 31 (X, XO, XS, XFX, A forms).

use crate::cpu::ZERO_REG;
use crate::decode::{DecodeCtx, D, K};
use crate::model::IsaLevel;

fn ra0(r: u32) -> u8 {
    if r == 0 {
        ZERO_REG as u8
    } else {
        r as u8
    }
}

/// Vector/VSX/FP load-store X-forms (facility-unavailable when disabled).
fn facility_xo(xo: u32) -> Option<K> {
    Some(match xo {
        6 | 7 | 38 | 39 | 71 | 103 | 135 | 167 | 199 | 231 | 359 | 487 | 519 | 551 => K::VecUnavail,
        12 | 76 | 140 | 268 | 269 | 301 | 332 | 364 | 396 | 397 | 429 | 524 | 588 | 652 | 716
        | 780 | 781 | 812 | 813 | 844 | 876 | 908 | 909 | 940 | 941 | 972 | 1004 => K::VsxUnavail,
        535 | 567 | 599 | 631 | 663 | 695 | 727 | 759 | 791 | 855 | 887 | 919 | 983 => K::FpUnavail,
        _ => return None,
    })
}

/// Decodes an opcode-31 instruction.
pub(crate) fn decode_31(w: u32, mut d: D, cx: DecodeCtx) -> D {
    let rt = (w >> 21) & 31;
    let ra = (w >> 16) & 31;
    let rb = (w >> 11) & 31;
    let rc = (w & 1) as u8;
    let xo = (w >> 1) & 0x3ff;
    let xo9 = xo & 0x1ff;
    let oe = ((w >> 10) & 1) as u8;
    let v300 = cx.isa >= IsaLevel::V3_00;
    let v310 = cx.isa >= IsaLevel::V3_10;
    d.rb = rb as u8;
    d.x = rc;

    // A-form isel (5-bit XO = 15).
    if (w >> 1) & 31 == 15 {
        d.ra = ra0(ra);
        d.x = ((w >> 6) & 31) as u8; // BC
        d.k = K::Isel;
        return d;
    }
    // XO-form arithmetic, OE in bit 21.
    let xo_kind = match xo9 {
        266 => Some(K::Add),
        10 => Some(K::Addc),
        138 => Some(K::Adde),
        234 => Some(K::Addme),
        202 => Some(K::Addze),
        40 => Some(K::Subf),
        8 => Some(K::Subfc),
        136 => Some(K::Subfe),
        232 => Some(K::Subfme),
        200 => Some(K::Subfze),
        104 => Some(K::Neg),
        235 => Some(K::Mullw),
        233 => Some(K::Mulld),
        491 => Some(K::Divw),
        459 => Some(K::Divwu),
        489 => Some(K::Divd),
        457 => Some(K::Divdu),
        427 => Some(K::Divwe),
        395 => Some(K::Divweu),
        425 => Some(K::Divde),
        393 => Some(K::Divdeu),
        75 if oe == 0 => Some(K::Mulhw),
        11 if oe == 0 => Some(K::Mulhwu),
        73 if oe == 0 => Some(K::Mulhd),
        9 if oe == 0 => Some(K::Mulhdu),
        _ => None,
    };
    if let Some(k) = xo_kind {
        if matches!(k, K::Addme | K::Addze | K::Subfme | K::Subfze | K::Neg) && rb != 0 {
            // Invalid form (reserved RB field), as QEMU decodes it.
            d.k = K::Illegal;
            return d;
        }
        d.x = rc | (oe << 1);
        d.k = k;
        return d;
    }
    // XS-form: sradi (413), extswsli (445).
    match (w >> 2) & 0x1ff {
        413 => {
            d.rb = (rb | (((w >> 1) & 1) << 5)) as u8;
            d.k = K::Sradi;
            return d;
        }
        445 if v300 => {
            d.rb = (rb | (((w >> 1) & 1) << 5)) as u8;
            d.k = K::Extswsli;
            return d;
        }
        _ => {}
    }
    if let Some(k) = facility_xo(xo) {
        d.k = k;
        return d;
    }
    let load = |d: &mut D, k: K, upd: bool| -> K {
        if upd {
            if ra == 0 || ra == rt {
                return K::Illegal;
            }
        } else {
            d.ra = ra0(ra);
        }
        k
    };
    let store = |d: &mut D, k: K, upd: bool| -> K {
        if upd {
            if ra == 0 {
                return K::Illegal;
            }
        } else {
            d.ra = ra0(ra);
        }
        k
    };
    d.k = match xo {
        0 | 32 => {
            d.x = (rt >> 2) as u8;
            d.rt = (rt & 1) as u8;
            if xo == 0 {
                K::Cmp
            } else {
                K::Cmpl
            }
        }
        192 if v300 => {
            d.x = (rt >> 2) as u8;
            d.rt = (rt & 1) as u8;
            K::Cmprb
        }
        224 if v300 => {
            d.x = (rt >> 2) as u8;
            K::Cmpeqb
        }
        128 if v300 => {
            d.x = (ra >> 2) as u8; // BFA
            K::Setb
        }
        576 if v300 => {
            d.x = (rt >> 2) as u8;
            K::Mcrxrx
        }
        384 | 416 | 448 | 480 if v310 => {
            d.x = ((xo - 384) / 32) as u8;
            d.ra = ra as u8; // BI
            K::Setbc
        }
        4 | 68 => {
            d.x = (xo == 68) as u8;
            K::Trap
        }
        19 => {
            if w & (1 << 20) != 0 {
                d.imm = ((w >> 12) & 0xff) as u64;
                K::Mfocrf
            } else {
                K::Mfcr
            }
        }
        144 => {
            d.imm = ((w >> 12) & 0xff) as u64;
            K::Mtcrf
        }
        28 => K::And,
        60 => K::Andc,
        444 => {
            if rt == ra && ra == rb && rc == 0 {
                d.x = rt as u8;
                K::PrioNop
            } else {
                K::Or
            }
        }
        412 => K::Orc,
        316 => K::Xor,
        124 => K::Nor,
        476 => K::Nand,
        284 => K::Eqv,
        954 => K::Extsb,
        922 => K::Extsh,
        986 => K::Extsw,
        26 => K::Cntlzw,
        58 => K::Cntlzd,
        538 if v300 => K::Cnttzw,
        570 if v300 => K::Cnttzd,
        122 => K::Popcntb,
        378 => K::Popcntw,
        506 => K::Popcntd,
        154 => K::Prtyw,
        186 => K::Prtyd,
        508 => K::Cmpb,
        252 => K::Bpermd,
        219 if v310 => K::Brh,
        155 if v310 => K::Brw,
        187 if v310 => K::Brd,
        24 => K::Slw,
        536 => K::Srw,
        792 => K::Sraw,
        824 => K::Srawi,
        27 => K::Sld,
        539 => K::Srd,
        794 => K::Srad,
        779 if v300 => K::Modsw,
        267 if v300 => K::Moduw,
        777 if v300 => K::Modsd,
        265 if v300 => K::Modud,
        170 if v300 && (w >> 9) & 3 == 0 => {
            d.x = rc;
            K::Addex
        }
        87 => load(&mut d, K::Lbz, false),
        119 => load(&mut d, K::LbzU, true),
        279 => load(&mut d, K::Lhz, false),
        311 => load(&mut d, K::LhzU, true),
        343 => load(&mut d, K::Lha, false),
        375 => load(&mut d, K::LhaU, true),
        23 => load(&mut d, K::Lwz, false),
        55 => load(&mut d, K::LwzU, true),
        341 => load(&mut d, K::Lwa, false),
        373 => load(&mut d, K::LwaU, true),
        21 => load(&mut d, K::Ld, false),
        53 => load(&mut d, K::LdU, true),
        790 => load(&mut d, K::Lhbrx, false),
        534 => load(&mut d, K::Lwbrx, false),
        532 => load(&mut d, K::Ldbrx, false),
        215 => store(&mut d, K::Stb, false),
        247 => store(&mut d, K::StbU, true),
        407 => store(&mut d, K::Sth, false),
        439 => store(&mut d, K::SthU, true),
        151 => store(&mut d, K::Stw, false),
        183 => store(&mut d, K::StwU, true),
        149 => store(&mut d, K::Std, false),
        181 => store(&mut d, K::StdU, true),
        918 => store(&mut d, K::Sthbrx, false),
        662 => store(&mut d, K::Stwbrx, false),
        660 => store(&mut d, K::Stdbrx, false),
        597 | 533 | 725 | 661 => {
            d.ra = ra0(ra);
            match xo {
                597 => K::Lswi,
                533 => K::Lswx,
                725 => K::Stswi,
                _ => K::Stswx,
            }
        }
        52 | 116 | 20 | 84 | 276 => {
            d.ra = ra0(ra);
            d.x = match xo {
                52 => 1,
                116 => 2,
                20 => 4,
                84 => 8,
                _ => 16,
            };
            if xo == 276 && (rt & 1 != 0 || rt == ra || rt + 1 == ra) {
                K::Illegal
            } else {
                K::Larx
            }
        }
        694 | 726 | 150 | 214 | 182 if rc == 1 => {
            d.ra = ra0(ra);
            d.x = match xo {
                694 => 1,
                726 => 2,
                150 => 4,
                214 => 8,
                _ => 16,
            };
            if xo == 182 && rt & 1 != 0 {
                K::Illegal
            } else {
                K::Stcx
            }
        }
        1014 => {
            d.ra = ra0(ra);
            K::Dcbz
        }
        982 => {
            d.ra = ra0(ra);
            K::Icbi
        }
        // dcbst, dcbf, dcbt, dcbtst, dcba, icbt, sync, eieio, wait-less
        // hints: no architectural effect here.
        54 | 86 | 278 | 246 | 758 | 22 | 70 | 566 => K::Nop,
        598 | 854 => {
            d.x = (xo == 598 && (w >> 21) & 3 == 1) as u8;
            K::Sync
        }
        // wait WC=0 idles; WC=1 (wait for reservation loss) and WC=2
        // (pause_short) are hints here.
        30 if v300 && (w >> 21) & 3 == 0 => K::Wait,
        30 if v300 => K::Nop,
        62 if !v300 => K::Wait,
        83 => K::Mfmsr,
        146 => {
            d.x = ((w >> 16) & 1) as u8;
            K::Mtmsr
        }
        178 => {
            d.x = ((w >> 16) & 1) as u8;
            K::Mtmsrd
        }
        339 | 467 | 371 => {
            d.imm = (((w >> 16) & 31) | (((w >> 11) & 31) << 5)) as u64;
            match xo {
                339 => K::Mfspr,
                467 => K::Mtspr,
                _ => K::Mftb,
            }
        }
        306 | 274 => {
            d.x = ((w >> 18) & 3) as u8 | (((w >> 16) & 3) as u8) << 2; // RIC | PRS/R
            if xo == 306 {
                K::Tlbie
            } else {
                K::Tlbiel
            }
        }
        142 if cx.isa >= IsaLevel::V2_07 => K::Msgsndp,
        174 if cx.isa >= IsaLevel::V2_07 => K::Msgclrp,
        755 if v300 => {
            d.x = ((w >> 16) & 3) as u8;
            K::Darn
        }
        // slbia, slbie, slbmte, slbmfev/ee, slbsync, tlbia, stop, copy/paste,
        // msgsnd/msgclr (hypervisor): valid, not emulated.
        498 | 434 | 402 | 851 | 915 | 338 | 370 | 774 | 902 | 206 | 238 => K::Unimpl,
        _ => K::Illegal,
    };
    d
}
