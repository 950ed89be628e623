//! Register bit definitions: MSR, LPCR, XER, SRR1 interrupt bits, SPR
//! numbers. ISA bit `n` of a 64-bit register is `1 << (63 - n)`.

/// MSR bits.
pub mod msr {
    /// 64-bit mode.
    pub const SF: u64 = 1 << 63;
    /// Hypervisor state (always 0 for a pseries guest).
    pub const HV: u64 = 1 << 60;
    /// Transaction state bits (TS) and TM available.
    pub const TS_TM: u64 = 7 << 32;
    /// Vector (VMX) available.
    pub const VEC: u64 = 1 << 25;
    /// VSX available.
    pub const VSX: u64 = 1 << 23;
    /// Secure (never set here).
    pub const S: u64 = 1 << 22;
    /// External interrupt enable.
    pub const EE: u64 = 1 << 15;
    /// Problem state.
    pub const PR: u64 = 1 << 14;
    /// Floating point available.
    pub const FP: u64 = 1 << 13;
    /// Machine check enable.
    pub const ME: u64 = 1 << 12;
    /// FP exception mode 0.
    pub const FE0: u64 = 1 << 11;
    /// Single-step trace enable.
    pub const SE: u64 = 1 << 10;
    /// Branch trace enable.
    pub const BE: u64 = 1 << 9;
    /// FP exception mode 1.
    pub const FE1: u64 = 1 << 8;
    /// Instruction relocate.
    pub const IR: u64 = 1 << 5;
    /// Data relocate.
    pub const DR: u64 = 1 << 4;
    /// Performance monitor mark.
    pub const PMM: u64 = 1 << 2;
    /// Recoverable interrupt.
    pub const RI: u64 = 1 << 1;
    /// Little-endian mode.
    pub const LE: u64 = 1;
    /// Bits an `rfid`/`mtmsrd` may change in a pseries guest (ME and HV
    /// stay; S and reserved bits never set).
    pub const GUEST_WRITABLE: u64 =
        SF | TS_TM | VEC | VSX | EE | PR | FP | FE0 | SE | BE | FE1 | IR | DR | PMM | RI | LE;
}

/// LPCR bits.
pub mod lpcr {
    /// Alternate interrupt location (2 bits at ISA 39:40).
    pub const AIL_SHIFT: u32 = 23;
    /// AIL mask.
    pub const AIL: u64 = 3 << AIL_SHIFT;
    /// Interrupt little-endian.
    pub const ILE: u64 = 1 << 25;
    /// Large decrementer.
    pub const LD: u64 = 1 << 17;
    /// Power-saving exit enables (POWER9 PDEE|HDEE|EEE|DEE|OEE).
    pub const PECE_P9: u64 = 0x1f << 12;
    /// Logical partitioning environment selector 0.
    pub const LPES0: u64 = 1 << 3;
    /// Host radix.
    pub const HR: u64 = 1 << 20;
    /// Guest translation shootdown enable.
    pub const GTSE: u64 = 1 << 10;
    /// Upper-radix (UPRT).
    pub const UPRT: u64 = 1 << 22;
}

/// XER bits (ISA numbering on the 64-bit register).
pub mod xer {
    /// Summary overflow.
    pub const SO: u64 = 1 << 31;
    /// Overflow.
    pub const OV: u64 = 1 << 30;
    /// Carry.
    pub const CA: u64 = 1 << 29;
    /// 32-bit overflow (ISA 3.0).
    pub const OV32: u64 = 1 << 19;
    /// 32-bit carry (ISA 3.0).
    pub const CA32: u64 = 1 << 18;
    /// Byte count field (lswx/stswx).
    pub const BC: u64 = 0x7f;
    /// Bits that read back.
    pub const MASK: u64 = SO | OV | CA | OV32 | CA32 | BC;
}

/// SRR1 interrupt-specific bits.
pub mod srr1 {
    /// Program: illegal instruction.
    pub const ILLEGAL: u64 = 0x80000;
    /// Program: privileged instruction.
    pub const PRIV: u64 = 0x40000;
    /// Program: trap.
    pub const TRAP: u64 = 0x20000;
    /// Program: SRR0 holds the next instruction's address.
    pub const ADDR_NEXT: u64 = 0x10000;
    /// The interrupted instruction was prefixed (ISA 3.1).
    pub const PREFIXED: u64 = 0x2000_0000;
    /// ISI: no translation.
    pub const ISI_NOPTE: u64 = 0x4000_0000;
    /// ISI: protection (or no-execute).
    pub const ISI_PROT: u64 = 0x0800_0000;
    /// Machine check: the error was on a load/store (SRR1 bit 42).
    pub const MCE_DSIDE: u64 = 0x20_0000;
    /// Bits 33:36 and 42:47: interrupt-specific, not copied from MSR.
    pub const SPECIFIC: u64 = 0x0000_0000_783f_0000;
}

/// DSISR bits.
pub mod dsisr {
    /// No translation found.
    pub const NOPTE: u32 = 0x4000_0000;
    /// Protection violation.
    pub const PROT: u32 = 0x0800_0000;
    /// The access was a store.
    pub const STORE: u32 = 0x0200_0000;
    /// Radix: bad radix tree configuration (RTS/size).
    pub const BAD_CONFIG: u32 = 0x0008_0000;
    /// R/C bits need updating.
    pub const RC: u32 = 0x0004_0000;
}

/// SPR numbers used by name.
#[allow(missing_docs)]
pub mod spr {
    pub const XER: u16 = 1;
    pub const DSCR_U: u16 = 3;
    pub const LR: u16 = 8;
    pub const CTR: u16 = 9;
    pub const AMR_U: u16 = 13;
    pub const DSCR: u16 = 17;
    pub const DSISR: u16 = 18;
    pub const DAR: u16 = 19;
    pub const DEC: u16 = 22;
    pub const SRR0: u16 = 26;
    pub const SRR1: u16 = 27;
    pub const CFAR: u16 = 28;
    pub const AMR: u16 = 29;
    pub const PIDR: u16 = 48;
    pub const IAMR: u16 = 61;
    pub const CTRL_R: u16 = 136;
    pub const TIDR: u16 = 144;
    pub const CTRL_W: u16 = 152;
    pub const FSCR: u16 = 153;
    pub const UAMOR: u16 = 157;
    pub const PSPB: u16 = 159;
    pub const DPDES: u16 = 176;
    pub const VRSAVE: u16 = 256;
    pub const SPRG3_U: u16 = 259;
    pub const TB: u16 = 268;
    pub const TBU: u16 = 269;
    pub const SPRG0: u16 = 272;
    pub const SPRG1: u16 = 273;
    pub const SPRG2: u16 = 274;
    pub const SPRG3: u16 = 275;
    pub const CIR: u16 = 283;
    pub const PVR: u16 = 287;
    pub const SPURR: u16 = 308;
    pub const PURR: u16 = 309;
    pub const LPCR: u16 = 318;
    pub const TIR: u16 = 446;
    pub const SIER_U: u16 = 768;
    pub const MMCR2_U: u16 = 769;
    pub const MMCRA_U: u16 = 770;
    pub const PMC1_U: u16 = 771;
    pub const PMC6_U: u16 = 776;
    pub const MMCR0_U: u16 = 779;
    pub const SIAR_U: u16 = 780;
    pub const SDAR_U: u16 = 781;
    pub const MMCR1_U: u16 = 782;
    pub const SIER: u16 = 784;
    pub const MMCR2: u16 = 785;
    pub const MMCRA: u16 = 786;
    pub const PMC1: u16 = 787;
    pub const PMC6: u16 = 792;
    pub const MMCR0: u16 = 795;
    pub const SIAR: u16 = 796;
    pub const SDAR: u16 = 797;
    pub const MMCR1: u16 = 798;
    pub const TAR: u16 = 815;
    pub const PSSCR: u16 = 823;
    pub const IC: u16 = 848;
    pub const VTB: u16 = 849;
    pub const PPR: u16 = 896;
    pub const PPR32: u16 = 898;
    pub const PIR: u16 = 1023;
}
