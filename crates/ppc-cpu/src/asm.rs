//! A tiny PowerPC assembler: encoders for the instruction forms the tests,
//! the benchmarks and the differential test generator use. Each function
//! returns the 32-bit instruction word.

#![allow(missing_docs)]

/// D-form: opcode, RT/RS, RA, 16-bit immediate.
pub fn d(op: u32, rt: u32, ra: u32, imm: i32) -> u32 {
    (op << 26) | (rt << 21) | (ra << 16) | (imm as u32 & 0xffff)
}

/// DS-form (ld/std/lwa): displacement must be a multiple of 4.
pub fn ds(op: u32, rt: u32, ra: u32, disp: i32, xo: u32) -> u32 {
    (op << 26) | (rt << 21) | (ra << 16) | (disp as u32 & 0xfffc) | xo
}

/// X-form with opcode 31.
pub fn x(rt: u32, ra: u32, rb: u32, xo: u32, rc: bool) -> u32 {
    (31 << 26) | (rt << 21) | (ra << 16) | (rb << 11) | (xo << 1) | rc as u32
}

/// XO-form with opcode 31 (OE and Rc).
pub fn xo(rt: u32, ra: u32, rb: u32, xo: u32, oe: bool, rc: bool) -> u32 {
    (31 << 26) | (rt << 21) | (ra << 16) | (rb << 11) | ((oe as u32) << 10) | (xo << 1) | rc as u32
}

pub fn addi(rt: u32, ra: u32, si: i32) -> u32 {
    d(14, rt, ra, si)
}
pub fn addis(rt: u32, ra: u32, si: i32) -> u32 {
    d(15, rt, ra, si)
}
pub fn li(rt: u32, si: i32) -> u32 {
    addi(rt, 0, si)
}
pub fn ori(ra: u32, rs: u32, ui: u32) -> u32 {
    d(24, rs, ra, ui as i32)
}
pub fn oris(ra: u32, rs: u32, ui: u32) -> u32 {
    d(25, rs, ra, ui as i32)
}
pub fn nop() -> u32 {
    0x6000_0000
}
pub fn mr(ra: u32, rs: u32) -> u32 {
    x(rs, ra, rs, 444, false)
}
pub fn add(rt: u32, ra: u32, rb: u32) -> u32 {
    xo(rt, ra, rb, 266, false, false)
}
pub fn subf(rt: u32, ra: u32, rb: u32) -> u32 {
    xo(rt, ra, rb, 40, false, false)
}
pub fn mulld(rt: u32, ra: u32, rb: u32) -> u32 {
    xo(rt, ra, rb, 233, false, false)
}
pub fn cmpd(bf: u32, ra: u32, rb: u32) -> u32 {
    x(bf << 2 | 1, ra, rb, 0, false)
}
pub fn cmpld(bf: u32, ra: u32, rb: u32) -> u32 {
    x(bf << 2 | 1, ra, rb, 32, false)
}
pub fn cmpdi(bf: u32, ra: u32, si: i32) -> u32 {
    d(11, bf << 2 | 1, ra, si)
}
pub fn cmpwi(bf: u32, ra: u32, si: i32) -> u32 {
    d(11, bf << 2, ra, si)
}
pub fn cmpldi(bf: u32, ra: u32, ui: u32) -> u32 {
    d(10, bf << 2 | 1, ra, ui as i32)
}
pub fn lbz(rt: u32, ra: u32, disp: i32) -> u32 {
    d(34, rt, ra, disp)
}
pub fn stb(rs: u32, ra: u32, disp: i32) -> u32 {
    d(38, rs, ra, disp)
}
pub fn lwz(rt: u32, ra: u32, disp: i32) -> u32 {
    d(32, rt, ra, disp)
}
pub fn stw(rs: u32, ra: u32, disp: i32) -> u32 {
    d(36, rs, ra, disp)
}
pub fn ld(rt: u32, ra: u32, disp: i32) -> u32 {
    ds(58, rt, ra, disp, 0)
}
pub fn std(rs: u32, ra: u32, disp: i32) -> u32 {
    ds(62, rs, ra, disp, 0)
}
pub fn stdu(rs: u32, ra: u32, disp: i32) -> u32 {
    ds(62, rs, ra, disp, 1)
}
pub fn lbzx(rt: u32, ra: u32, rb: u32) -> u32 {
    x(rt, ra, rb, 87, false)
}
pub fn stbx(rs: u32, ra: u32, rb: u32) -> u32 {
    x(rs, ra, rb, 215, false)
}
/// rlwinm ra,rs,sh,mb,me
pub fn rlwinm(ra: u32, rs: u32, sh: u32, mb: u32, me: u32, rc: bool) -> u32 {
    (21 << 26) | (rs << 21) | (ra << 16) | (sh << 11) | (mb << 6) | (me << 1) | rc as u32
}
/// MD-form rotates: xo 0 rldicl, 1 rldicr, 2 rldic, 3 rldimi.
pub fn md(ra: u32, rs: u32, sh: u32, mbe: u32, xo: u32, rc: bool) -> u32 {
    (30 << 26)
        | (rs << 21)
        | (ra << 16)
        | ((sh & 31) << 11)
        | ((mbe & 31) << 6)
        | ((mbe >> 5) << 5)
        | (xo << 2)
        | ((sh >> 5) << 1)
        | rc as u32
}
/// sldi ra,rs,n
pub fn sldi(ra: u32, rs: u32, n: u32) -> u32 {
    md(ra, rs, n, 63 - n, 1, false)
}
/// b with a byte displacement.
pub fn b(disp: i32) -> u32 {
    (18 << 26) | (disp as u32 & 0x03ff_fffc)
}
pub fn bl(disp: i32) -> u32 {
    b(disp) | 1
}
/// bc BO,BI,disp
pub fn bc(bo: u32, bi: u32, disp: i32) -> u32 {
    (16 << 26) | (bo << 21) | (bi << 16) | (disp as u32 & 0xfffc)
}
pub fn bdnz(disp: i32) -> u32 {
    bc(16, 0, disp)
}
/// Branch if CR field `crf` bit `bit` (0 LT, 1 GT, 2 EQ) is set.
pub fn bt(crf: u32, bit: u32, disp: i32) -> u32 {
    bc(12, crf * 4 + bit, disp)
}
/// Branch if the bit is clear.
pub fn bf(crf: u32, bit: u32, disp: i32) -> u32 {
    bc(4, crf * 4 + bit, disp)
}
pub fn blr() -> u32 {
    0x4e80_0020
}
pub fn bctr() -> u32 {
    0x4e80_0420
}
pub fn mtspr(spr: u32, rs: u32) -> u32 {
    x(rs, spr & 31, spr >> 5, 467, false)
}
pub fn mfspr(rt: u32, spr: u32) -> u32 {
    x(rt, spr & 31, spr >> 5, 339, false)
}
pub fn mtctr(rs: u32) -> u32 {
    mtspr(9, rs)
}
pub fn mtlr(rs: u32) -> u32 {
    mtspr(8, rs)
}
pub fn mflr(rt: u32) -> u32 {
    mfspr(rt, 8)
}
pub fn mfcr(rt: u32) -> u32 {
    x(rt, 0, 0, 19, false)
}
pub fn mtcrf(fxm: u32, rs: u32) -> u32 {
    (31 << 26) | (rs << 21) | (fxm << 12) | (144 << 1)
}
pub fn mfmsr(rt: u32) -> u32 {
    x(rt, 0, 0, 83, false)
}
pub fn mtmsrd(rs: u32, l: u32) -> u32 {
    x(rs, l, 0, 178, false)
}
pub fn mtmsr(rs: u32, l: u32) -> u32 {
    x(rs, l, 0, 146, false)
}
pub fn rfid() -> u32 {
    0x4c00_0024
}
pub fn sc(lev: u32) -> u32 {
    0x4400_0002 | (lev << 5)
}
pub fn isync() -> u32 {
    0x4c00_012c
}
pub fn sync() -> u32 {
    0x7c00_04ac
}
pub fn icbi(ra: u32, rb: u32) -> u32 {
    x(0, ra, rb, 982, false)
}
pub fn dcbz(ra: u32, rb: u32) -> u32 {
    x(0, ra, rb, 1014, false)
}
pub fn lwarx(rt: u32, ra: u32, rb: u32) -> u32 {
    x(rt, ra, rb, 20, false)
}
pub fn stwcx(rs: u32, ra: u32, rb: u32) -> u32 {
    x(rs, ra, rb, 150, true)
}
pub fn ldarx(rt: u32, ra: u32, rb: u32) -> u32 {
    x(rt, ra, rb, 84, false)
}
pub fn stdcx(rs: u32, ra: u32, rb: u32) -> u32 {
    x(rs, ra, rb, 214, true)
}
pub fn tlbie(rb: u32, rs: u32) -> u32 {
    x(rs, 0, rb, 306, false)
}
pub fn tw(to: u32, ra: u32, rb: u32) -> u32 {
    x(to, ra, rb, 4, false)
}
pub fn tdi(to: u32, ra: u32, si: i32) -> u32 {
    d(2, to, ra, si)
}

/// Loads a 64-bit constant into `rt` (5 instructions).
pub fn load_imm64(rt: u32, v: u64) -> [u32; 5] {
    [
        addis(rt, 0, (v >> 48) as u16 as i16 as i32),
        ori(rt, rt, ((v >> 32) & 0xffff) as u32),
        sldi(rt, rt, 32),
        oris(rt, rt, ((v >> 16) & 0xffff) as u32),
        ori(rt, rt, (v & 0xffff) as u32),
    ]
}
