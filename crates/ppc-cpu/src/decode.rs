//! Instruction decoding into the compact form the interpreter runs.
//!
//! Each 32-bit word (or 64-bit prefixed pair) becomes one [`D`]: a kind and
//! pre-extracted operands, with immediates sign-extended and shifted,
//! rotate masks precomputed and `(RA|0)` operands pointing at the zero
//! pseudo register, so the hot loop does no field extraction.

use crate::cpu::ZERO_REG;
use crate::decode_ext::{decode_prefixed, vmx_known};
use crate::model::IsaLevel;

/// Instruction kinds. Operand use is noted per group; `rt` doubles as RS
/// and `x` carries Rc (bit 0), OE (bit 1) or a small sub-field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
#[allow(missing_docs)]
pub(crate) enum K {
    // Immediate arithmetic / logical.
    Addi,
    Addic,
    Subfic,
    Mulli,
    Ori,
    Xori,
    AndiRc,
    Cmpi,
    Cmpli,
    // XO-form arithmetic (x: bit0 Rc, bit1 OE).
    Add,
    Addc,
    Adde,
    Addme,
    Addze,
    Subf,
    Subfc,
    Subfe,
    Subfme,
    Subfze,
    Neg,
    Mullw,
    Mulld,
    Mulhw,
    Mulhwu,
    Mulhd,
    Mulhdu,
    Divw,
    Divwu,
    Divd,
    Divdu,
    Divwe,
    Divweu,
    Divde,
    Divdeu,
    Modsw,
    Moduw,
    Modsd,
    Modud,
    Maddhd,
    Maddhdu,
    Maddld,
    Addex,
    // X-form logical (ra = rs op rb).
    And,
    Andc,
    Or,
    Orc,
    Xor,
    Nor,
    Nand,
    Eqv,
    Extsb,
    Extsh,
    Extsw,
    Cntlzw,
    Cntlzd,
    Cnttzw,
    Cnttzd,
    Popcntb,
    Popcntw,
    Popcntd,
    Prtyw,
    Prtyd,
    Cmpb,
    Bpermd,
    Brh,
    Brw,
    Brd,
    // Shifts and rotates (imm = mask, x = shift / Rc in rb slot).
    Slw,
    Srw,
    Sraw,
    Srawi,
    Sld,
    Srd,
    Srad,
    Sradi,
    Extswsli,
    Rlwinm,
    Rlwnm,
    Rlwimi,
    Rldic,
    Rldcx,
    Rldimi,
    // Compares and CR.
    Cmp,
    Cmpl,
    /// A compare fused with the `bc` (BO[2]=1) right after it, which stays
    /// in the block as the next entry (decode-cache superinstructions);
    /// `rt` is 0 for L=1 and 32 for L=0 (operand shift). Only a relative
    /// bc without link or CTR use, testing the compare's field, is fused;
    /// its `rb` then holds the bit mask (low 4 bits) and 0x10 when it
    /// branches on the bit set.
    CmpBc,
    CmpiBc,
    CmplBc,
    CmpliBc,
    /// An `add` (no Rc/OE) or `addi` right before a fused compare+bc; the
    /// compare's fused kind is the suffix.
    AddCmpBc,
    AddCmpiBc,
    AddCmplBc,
    AddCmpliBc,
    AddiCmpBc,
    AddiCmpiBc,
    AddiCmplBc,
    AddiCmpliBc,
    /// A zero-extending load without update (lbz, lhz, lwz, ld, D or X
    /// form) right before a fused compare+bc; `x` = log2 of its size.
    LoadCmpBc,
    LoadCmpiBc,
    LoadCmplBc,
    LoadCmpliBc,
    Cmprb,
    Cmpeqb,
    Setb,
    Setbc,
    Isel,
    Mcrf,
    Mcrxrx,
    CrLogic,
    Mfcr,
    Mfocrf,
    Mtcrf,
    Addpcis,
    // Loads (EA = g[ra] + g[rb] + imm).
    Lbz,
    Lhz,
    Lha,
    Lwz,
    Lwa,
    Ld,
    LbzU,
    LhzU,
    LhaU,
    LwzU,
    LwaU,
    LdU,
    Lhbrx,
    Lwbrx,
    Ldbrx,
    Stb,
    Sth,
    Stw,
    Std,
    StbU,
    SthU,
    StwU,
    StdU,
    Sthbrx,
    Stwbrx,
    Stdbrx,
    Lmw,
    Stmw,
    Lswi,
    Lswx,
    Stswi,
    Stswx,
    Lq,
    Stq,
    Larx,
    Stcx,
    Dcbz,
    Icbi,
    /// Prefixed load: x = size | 0x10 signed | 0x20 PC-relative.
    PLoad,
    /// Prefixed store: x = size | 0x20 PC-relative.
    PStore,
    Paddi,
    // Branches (imm = displacement, x: bit0 LK, bit1 AA, bit2 followed at
    // decode time, bit3 a bc whose fall-through path continues the block;
    // rt = BO, ra = BI).
    B,
    Bc,
    Bclr,
    Bcctr,
    Bctar,
    // System.
    Sc,
    Rfid,
    Mfmsr,
    Mtmsr,
    Mtmsrd,
    Mfspr,
    Mtspr,
    Mftb,
    Isync,
    /// sync/lwsync/ptesync/eieio: a host memory fence (x: 1 = lwsync).
    Sync,
    Nop,
    PrioNop,
    Tlbie,
    Tlbiel,
    Msgsndp,
    Msgclrp,
    Wait,
    Trap,
    TrapI,
    Darn,
    /// Program interrupt, illegal instruction (x: 1 = prefixed).
    Illegal,
    /// Privileged-only instruction in problem state handled at run time.
    FpUnavail,
    VecUnavail,
    VsxUnavail,
    /// A valid instruction this emulator does not implement.
    Unimpl,
    /// A prefixed instruction crossing a 64-byte boundary (alignment).
    PrefixCross,
    /// `scv`: facility unavailable unless `FSCR[SCV]`; then not emulated.
    Scv,
}

/// One decoded instruction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct D {
    pub imm: u64,
    pub k: K,
    pub rt: u8,
    pub ra: u8,
    pub rb: u8,
    pub x: u8,
    /// Page offset of the instruction (its EA is the block's page EA plus
    /// this: blocks never leave their page).
    pub off: u16,
    /// Length in bytes (4 or 8).
    pub len: u8,
}

impl D {
    pub(crate) fn new(k: K) -> D {
        D {
            imm: 0,
            k,
            rt: 0,
            ra: 0,
            rb: ZERO_REG as u8,
            x: 0,
            off: 0,
            len: 4,
        }
    }
}

/// Features that change decoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecodeCtx {
    pub isa: IsaLevel,
    pub prefixed: bool,
}

/// MASK(mb, me) in ISA bit numbering on 64 bits.
pub(crate) fn mask64(mb: u32, me: u32) -> u64 {
    let a = u64::MAX >> mb;
    let b = u64::MAX << (63 - me);
    if mb <= me {
        a & b
    } else {
        a | b
    }
}

fn ra0(r: u32) -> u8 {
    if r == 0 {
        ZERO_REG as u8
    } else {
        r as u8
    }
}

/// Whether the kind ends a decoded block.
pub(crate) fn ends_block(d: &D) -> bool {
    use K::*;
    match d.k {
        B | Bc | Bclr | Bcctr | Bctar | Sc | Rfid | Mtmsr | Mtmsrd | Isync | Icbi | Tlbie
        | Tlbiel | Msgsndp | Msgclrp | Wait | Illegal | FpUnavail | VecUnavail | VsxUnavail
        | Unimpl | PrefixCross | Scv | Stcx => true,
        Mtspr => !matches!(
            d.imm,
            1 | 3 | 8 | 9 | 17 | 18 | 19 | 26 | 27 | 28 | 256 | 272..=275 | 815
        ),
        _ => false,
    }
}

/// Decodes one instruction word; `next` is the following word (for
/// prefixed instructions), if available in the same page.
pub(crate) fn decode(w: u32, next: Option<u32>, cx: DecodeCtx) -> D {
    let op = w >> 26;
    let rt = (w >> 21) & 31;
    let ra = (w >> 16) & 31;
    let rb = (w >> 11) & 31;
    let si = (w & 0xffff) as i16 as i64 as u64;
    let ui = (w & 0xffff) as u64;
    let v300 = cx.isa >= IsaLevel::V3_00;
    let mut d = D::new(K::Illegal);
    d.rt = rt as u8;
    d.ra = ra as u8;
    macro_rules! k {
        ($k:expr) => {{
            d.k = $k;
            d
        }};
    }
    let ill = |mut d: D| {
        d.k = K::Illegal;
        d
    };
    match op {
        1 => match next {
            Some(s) if cx.prefixed => decode_prefixed(w, s),
            _ if cx.prefixed => {
                d.len = 8;
                k!(K::PrefixCross)
            }
            _ => d,
        },
        2 | 3 => {
            d.imm = si;
            d.x = (op == 2) as u8;
            k!(K::TrapI)
        }
        4 => {
            let xo = w & 0x3f;
            if v300 && (48..=51).contains(&xo) && xo != 50 {
                d.rb = rb as u8;
                d.x = ((w >> 6) & 31) as u8; // RC register
                return k!(match xo {
                    48 => K::Maddhd,
                    49 => K::Maddhdu,
                    _ => K::Maddld,
                });
            }
            if vmx_known(w) {
                k!(K::VecUnavail)
            } else {
                d
            }
        }
        7 => {
            d.imm = si;
            d.ra = ra as u8;
            k!(K::Mulli)
        }
        8 => {
            d.imm = si;
            k!(K::Subfic)
        }
        10 | 11 => {
            d.x = (rt >> 2) as u8; // BF
            d.rt = (rt & 1) as u8; // L
            d.imm = if op == 11 { si } else { ui };
            k!(if op == 11 { K::Cmpi } else { K::Cmpli })
        }
        12 | 13 => {
            d.imm = si;
            d.x = (op == 13) as u8;
            k!(K::Addic)
        }
        14 | 15 => {
            d.imm = if op == 15 { si << 16 } else { si };
            d.ra = ra0(ra);
            k!(K::Addi)
        }
        16 => {
            d.imm = (w & 0xfffc) as i16 as i64 as u64;
            d.x = (w & 3) as u8;
            k!(K::Bc)
        }
        17 => {
            if w & 2 != 0 {
                d.x = ((w >> 5) & 0x7f) as u8;
                k!(K::Sc)
            } else if v300 && w & 3 == 1 {
                // scv (ISA 3.0): gated by FSCR[SCV].
                k!(K::Scv)
            } else {
                k!(K::Illegal)
            }
        }
        18 => {
            let li = ((w & 0x03ff_fffc) << 6) as i32 >> 6;
            d.imm = li as i64 as u64;
            d.x = (w & 3) as u8;
            k!(K::B)
        }
        19 => decode_19(w, d, v300),
        20 | 21 | 23 => {
            let mb = (w >> 6) & 31;
            let me = (w >> 1) & 31;
            d.imm = mask64(mb + 32, me + 32);
            d.rb = rb as u8;
            d.x = (w & 1) as u8;
            k!(match op {
                20 => K::Rlwimi,
                21 => K::Rlwinm,
                _ => K::Rlwnm,
            })
        }
        24 | 25 => {
            if op == 24 && w == 0x6000_0000 {
                return k!(K::Nop);
            }
            d.imm = if op == 25 { ui << 16 } else { ui };
            k!(K::Ori)
        }
        26 | 27 => {
            d.imm = if op == 27 { ui << 16 } else { ui };
            k!(K::Xori)
        }
        28 | 29 => {
            d.imm = if op == 29 { ui << 16 } else { ui };
            k!(K::AndiRc)
        }
        30 => decode_30(w, d),
        31 => crate::decode31::decode_31(w, d, cx),
        32..=45 => {
            d.imm = si;
            let upd = op & 1 == 1;
            if upd && (ra == 0 || (op < 36 || (40..44).contains(&op)) && ra == rt) {
                return ill(d);
            }
            if !upd {
                d.ra = ra0(ra);
            }
            k!(match op {
                32 => K::Lwz,
                33 => K::LwzU,
                34 => K::Lbz,
                35 => K::LbzU,
                36 => K::Stw,
                37 => K::StwU,
                38 => K::Stb,
                39 => K::StbU,
                40 => K::Lhz,
                41 => K::LhzU,
                42 => K::Lha,
                43 => K::LhaU,
                44 => K::Sth,
                _ => K::SthU,
            })
        }
        46 | 47 => {
            d.imm = si;
            d.ra = ra0(ra);
            if op == 46 && ra != 0 && ra >= rt {
                return ill(d);
            }
            k!(if op == 46 { K::Lmw } else { K::Stmw })
        }
        48..=55 => k!(K::FpUnavail),
        56 => {
            // lq (privileged); RTp must be even and differ from RA.
            d.imm = (w & 0xfff0) as i16 as i64 as u64;
            if rt & 1 != 0 || rt == ra {
                return ill(d);
            }
            d.ra = ra0(ra);
            k!(K::Lq)
        }
        57 => match w & 3 {
            0 => k!(K::FpUnavail),
            _ => k!(K::VecUnavail),
        },
        58 => {
            d.imm = (w & 0xfffc) as i16 as i64 as u64;
            match w & 3 {
                0 => {
                    d.ra = ra0(ra);
                    k!(K::Ld)
                }
                1 => {
                    if ra == 0 || ra == rt {
                        return ill(d);
                    }
                    k!(K::LdU)
                }
                2 => {
                    d.ra = ra0(ra);
                    k!(K::Lwa)
                }
                _ => ill(d),
            }
        }
        59 | 63 => k!(K::FpUnavail),
        60 => k!(K::VsxUnavail),
        61 => match w & 3 {
            0 => k!(K::FpUnavail),
            _ => k!(K::VecUnavail),
        },
        62 => {
            d.imm = (w & 0xfffc) as i16 as i64 as u64;
            match w & 3 {
                0 => {
                    d.ra = ra0(ra);
                    k!(K::Std)
                }
                1 => {
                    if ra == 0 {
                        return ill(d);
                    }
                    k!(K::StdU)
                }
                2 => {
                    if rt & 1 != 0 {
                        return ill(d);
                    }
                    d.ra = ra0(ra);
                    k!(K::Stq)
                }
                _ => ill(d),
            }
        }
        _ => d,
    }
}

fn decode_19(w: u32, mut d: D, v300: bool) -> D {
    let xo = (w >> 1) & 0x3ff;
    let rt = (w >> 21) & 31;
    let ra = (w >> 16) & 31;
    let rb = (w >> 11) & 31;
    if (w >> 1) & 31 == 2 && v300 {
        // addpcis: d = d0 || d1 || d2.
        let d0 = (w >> 6) & 0x3ff;
        let d1 = (w >> 16) & 31;
        let d2 = w & 1;
        let v = ((d0 << 6) | (d1 << 1) | d2) as u16 as i16 as i64;
        d.imm = (v << 16) as u64;
        d.k = K::Addpcis;
        return d;
    }
    d.k = match xo {
        0 => {
            d.x = (rt >> 2) as u8;
            d.ra = (ra >> 2) as u8;
            K::Mcrf
        }
        16 => {
            d.x = (w & 1) as u8;
            K::Bclr
        }
        528 => {
            d.x = (w & 1) as u8;
            K::Bcctr
        }
        560 => {
            d.x = (w & 1) as u8;
            K::Bctar
        }
        18 => K::Rfid,
        150 => K::Isync,
        33 | 129 | 193 | 225 | 257 | 289 | 417 | 449 => {
            d.rb = rb as u8;
            d.x = (xo >> 5) as u8; // operation selector
            K::CrLogic
        }
        274 | 82 => K::Unimpl, // hrfid / rfscv
        _ => K::Illegal,
    };
    d
}

fn decode_30(w: u32, mut d: D) -> D {
    let sh = ((w >> 11) & 31) | (((w >> 1) & 1) << 5);
    let mbe = ((w >> 6) & 31) | (((w >> 5) & 1) << 5);
    d.x = (w & 1) as u8;
    d.rb = sh as u8;
    match (w >> 2) & 7 {
        0 => {
            d.imm = mask64(mbe, 63);
            d.k = K::Rldic;
        }
        1 => {
            d.imm = mask64(0, mbe);
            d.k = K::Rldic;
        }
        2 => {
            d.imm = mask64(mbe, 63 - sh);
            d.k = K::Rldic;
        }
        3 => {
            d.imm = mask64(mbe, 63 - sh);
            d.k = K::Rldimi;
        }
        4 => {
            d.rb = ((w >> 11) & 31) as u8;
            d.imm = match (w >> 1) & 15 {
                8 => mask64(mbe, 63),
                9 => mask64(0, mbe),
                _ => {
                    d.k = K::Illegal;
                    return d;
                }
            };
            d.k = K::Rldcx;
        }
        _ => d.k = K::Illegal,
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    const P9: DecodeCtx = DecodeCtx {
        isa: IsaLevel::V3_00,
        prefixed: false,
    };
    const P10: DecodeCtx = DecodeCtx {
        isa: IsaLevel::V3_10,
        prefixed: true,
    };

    #[test]
    fn masks() {
        assert_eq!(mask64(0, 63), u64::MAX);
        assert_eq!(mask64(32, 63), 0xffff_ffff);
        assert_eq!(mask64(63, 0), 0x8000_0000_0000_0001);
        assert_eq!(mask64(48, 55), 0xff00);
    }

    #[test]
    fn immediates() {
        // addi r3,r0,-1 -> li
        let d = decode(0x3860_ffff, None, P9);
        assert_eq!(d.k, K::Addi);
        assert_eq!(d.ra as usize, ZERO_REG);
        assert_eq!(d.imm, u64::MAX);
        // addis r3,r3,0x8000 shifts and sign-extends
        let d = decode(0x3c63_8000, None, P9);
        assert_eq!(d.imm, 0xffff_ffff_8000_0000);
        // b .-4
        let d = decode(0x4bff_fffc, None, P9);
        assert_eq!((d.k, d.imm as i64), (K::B, -4));
    }

    #[test]
    fn illegal_and_prefixed() {
        assert_eq!(decode(0, None, P9).k, K::Illegal);
        assert_eq!(decode(0x1234_5678, None, P9).k, K::Illegal);
        // The kvm-unit-tests prefixed pair: an invalid suffix on POWER10.
        let d = decode(0x0400_0123, Some(0x00ba_dc0d), P10);
        assert_eq!((d.k, d.x, d.len), (K::Illegal, 1, 8));
        // pld r3, 16(r4)
        let d = decode(
            0x0400_0000,
            Some((57 << 26) | (3 << 21) | (4 << 16) | 16),
            P10,
        );
        assert_eq!((d.k, d.x, d.imm), (K::PLoad, 8, 16));
        // Prefixes are illegal before POWER10.
        assert_eq!(decode(0x0400_0000, Some(0), P9).len, 4);
    }

    #[test]
    fn update_forms_validate_ra() {
        // lwzu r3,0(r0) is an invalid form.
        assert_eq!(decode(0x8460_0000, None, P9).k, K::Illegal);
        // lwzu r3,0(r3) too.
        assert_eq!(decode(0x8463_0000, None, P9).k, K::Illegal);
        assert_eq!(decode(0x8464_0000, None, P9).k, K::LwzU);
    }
}
