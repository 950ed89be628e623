//! Interrupt delivery: vectors, SRR0/SRR1 (ISA 3.0 rules), the new MSR
//! (pseries guest: HV and ME kept, LE from `LPCR[ILE]`) and `LPCR[AIL]`.

use crate::cpu::Cpu;
use crate::regs::{lpcr, msr, srr1};
use crate::vcpu::MmioRequest;

/// Interrupt vectors (real-mode offsets).
#[allow(missing_docs)]
pub mod vector {
    pub const SYSTEM_RESET: u64 = 0x100;
    pub const MACHINE_CHECK: u64 = 0x200;
    pub const DSI: u64 = 0x300;
    pub const DSEG: u64 = 0x380;
    pub const ISI: u64 = 0x400;
    pub const ISEG: u64 = 0x480;
    pub const EXTERNAL: u64 = 0x500;
    pub const ALIGNMENT: u64 = 0x600;
    pub const PROGRAM: u64 = 0x700;
    pub const FP_UNAVAILABLE: u64 = 0x800;
    pub const DECREMENTER: u64 = 0x900;
    pub const DOORBELL: u64 = 0xa00;
    pub const SYSCALL: u64 = 0xc00;
    pub const TRACE: u64 = 0xd00;
    pub const VEC_UNAVAILABLE: u64 = 0xf20;
    pub const VSX_UNAVAILABLE: u64 = 0xf40;
    pub const FAC_UNAVAILABLE: u64 = 0xf60;
}

/// Why an instruction did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    Dsi {
        dar: u64,
        dsisr: u32,
    },
    DSeg {
        dar: u64,
    },
    Isi {
        bits: u64,
    },
    ISeg,
    MachineCheck {
        dar: Option<u64>,
        dsisr: u32,
        bits: u64,
    },
    Alignment {
        dar: u64,
        dsisr: u32,
    },
    /// Program interrupt with its SRR1 bits.
    Program(u64),
    FpUnavailable,
    VecUnavailable,
    VsxUnavailable,
    /// Facility unavailable with the FSCR interruption cause.
    FacilityUnavailable(u8),
    /// `sc 0` (SRR0 = next instruction).
    Syscall,
    /// `sc 1`: hypercall exit (NIP already advanced).
    Hcall,
    Mmio(MmioRequest),
    /// `wait`: idle exit (NIP already advanced).
    Idle,
    Unimplemented(u32),
    /// The instruction completed but changed state that needs the run
    /// loop (rfid, mtmsrd, isync...): NIP already set.
    Resched,
}

impl Cpu {
    /// Delivers an interrupt at `vec` with SRR0 = `srr0` and the
    /// interrupt-specific SRR1 `bits`.
    pub(crate) fn interrupt(&mut self, vec: u64, srr0: u64, bits: u64) {
        let old = self.msr;
        self.srr0 = srr0;
        self.srr1 = (old & !srr1::SPECIFIC) | (bits & srr1::SPECIFIC);
        let mut new = msr::SF | (old & (msr::HV | msr::ME));
        if self.lpcr & lpcr::ILE != 0 {
            new |= msr::LE;
        }
        let mut target = vec;
        let ail = (self.lpcr & lpcr::AIL) >> lpcr::AIL_SHIFT;
        let relocated = old & (msr::IR | msr::DR) == (msr::IR | msr::DR);
        if vec != vector::SYSTEM_RESET && vec != vector::MACHINE_CHECK && relocated {
            let base = match ail {
                3 => Some(0xc000_0000_0000_4000),
                2 if self.model.isa < crate::model::IsaLevel::V3_10 => Some(0x1_8000),
                _ => None,
            };
            if let Some(b) = base {
                target = vec + b;
                new |= msr::IR | msr::DR;
            }
        }
        self.reservation = None;
        self.nip = target;
        self.set_msr(new);
    }

    /// Turns a fault of the instruction at `pc` (length `len`) into an
    /// interrupt. Returns `false` for faults that are exits, not
    /// interrupts.
    pub(crate) fn deliver(&mut self, f: Fault, pc: u64, len: u8) -> bool {
        let pfx = if len == 8 { srr1::PREFIXED } else { 0 };
        match f {
            Fault::Dsi { dar, dsisr } => {
                self.dar = dar;
                self.dsisr = dsisr as u64;
                self.interrupt(vector::DSI, pc, 0);
            }
            Fault::DSeg { dar } => {
                self.dar = dar;
                self.interrupt(vector::DSEG, pc, 0);
            }
            Fault::Isi { bits } => self.interrupt(vector::ISI, pc, bits),
            Fault::ISeg => self.interrupt(vector::ISEG, pc, 0),
            Fault::MachineCheck { dar, dsisr, bits } => {
                if let Some(a) = dar {
                    self.dar = a;
                    self.dsisr = dsisr as u64;
                }
                self.interrupt(vector::MACHINE_CHECK, pc, bits);
            }
            Fault::Alignment { dar, dsisr } => {
                self.dar = dar;
                self.dsisr = dsisr as u64;
                self.interrupt(vector::ALIGNMENT, pc, pfx);
            }
            Fault::Program(bits) => self.interrupt(vector::PROGRAM, pc, bits | pfx),
            Fault::FpUnavailable => self.interrupt(vector::FP_UNAVAILABLE, pc, pfx),
            Fault::VecUnavailable => self.interrupt(vector::VEC_UNAVAILABLE, pc, pfx),
            Fault::VsxUnavailable => self.interrupt(vector::VSX_UNAVAILABLE, pc, pfx),
            Fault::FacilityUnavailable(ic) => {
                let fscr = &mut self.spr_store[crate::regs::spr::FSCR as usize];
                *fscr = (*fscr & !(0xff << 56)) | ((ic as u64) << 56);
                self.interrupt(vector::FAC_UNAVAILABLE, pc, pfx);
            }
            Fault::Syscall => self.interrupt(vector::SYSCALL, pc.wrapping_add(4) & self.ea_mask, 0),
            Fault::Hcall
            | Fault::Mmio(_)
            | Fault::Idle
            | Fault::Unimplemented(_)
            | Fault::Resched => return false,
        }
        true
    }

    /// A machine check for a real address that nothing answers.
    pub(crate) fn bad_real_address(kind: crate::mem::Access, ea: u64) -> Fault {
        use crate::mem::Access;
        let bit = |n: u32| 1u64 << (63 - n);
        match kind {
            Access::Load => Fault::MachineCheck {
                dar: Some(ea),
                dsisr: 1 << (63 - 57),
                bits: bit(42),
            },
            Access::Store => Fault::MachineCheck {
                dar: Some(ea),
                dsisr: 0,
                bits: bit(36) | bit(42) | bit(43) | bit(45),
            },
            Access::Fetch => Fault::MachineCheck {
                dar: None,
                dsisr: 0,
                bits: bit(36) | bit(44) | bit(45),
            },
        }
    }
}
