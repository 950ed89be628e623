//! vCPU state save/restore as a plain serde struct (for migration).
//!
//! Reservations are deliberately not saved: a `stcx.` after migration
//! fails, as on QEMU. The timebase is machine-wide ([`crate::Timebase`])
//! and migrated by the machine; the decrementer is saved as its value.

use serde::{Deserialize, Serialize};

use crate::model::IsaLevel;
use crate::vcpu::Vcpu;

/// Everything architected about one vCPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VcpuState {
    /// PVR of the model the state was taken on.
    pub pvr: u32,
    /// GPRs.
    pub gpr: [u64; 32],
    /// CR.
    pub cr: u32,
    /// XER (full value).
    pub xer: u64,
    /// LR.
    pub lr: u64,
    /// CTR.
    pub ctr: u64,
    /// MSR.
    pub msr: u64,
    /// NIP.
    pub nip: u64,
    /// SRR0.
    pub srr0: u64,
    /// SRR1.
    pub srr1: u64,
    /// DAR.
    pub dar: u64,
    /// DSISR.
    pub dsisr: u64,
    /// CFAR.
    pub cfar: u64,
    /// TAR.
    pub tar: u64,
    /// SPRG0-3.
    pub sprg: [u64; 4],
    /// PIDR.
    pub pidr: u64,
    /// LPCR.
    pub lpcr: u64,
    /// Decrementer value at save time.
    pub dec: u64,
    /// Plain-storage SPRs: (number, value) for every non-zero one.
    pub sprs: Vec<(u16, u64)>,
    /// Compatibility mode.
    pub compat: Option<IsaLevel>,
}

/// Why a state could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The state comes from another CPU model.
    #[error("vCPU state is for PVR {found:#010x}, this CPU has PVR {expected:#010x}")]
    PvrMismatch {
        /// This vCPU's PVR.
        expected: u32,
        /// The stream's PVR.
        found: u32,
    },
    /// An SPR number outside 0..1024.
    #[error("vCPU state names SPR {0}, which does not exist")]
    BadSpr(u16),
}

impl Vcpu {
    /// Saves the architected state.
    pub fn save(&self) -> VcpuState {
        let c = &self.cpu;
        let mut gpr = [0u64; 32];
        gpr.copy_from_slice(&c.g[..32]);
        VcpuState {
            pvr: c.model.pvr,
            gpr,
            cr: c.get_cr(),
            xer: c.get_xer(),
            lr: c.lr,
            ctr: c.ctr,
            msr: c.msr,
            nip: c.nip,
            srr0: c.srr0,
            srr1: c.srr1,
            dar: c.dar,
            dsisr: c.dsisr,
            cfar: c.cfar,
            tar: c.tar,
            sprg: c.sprg,
            pidr: c.pidr,
            lpcr: c.lpcr,
            dec: c.dec.read(c.tb()),
            sprs: c
                .spr_store
                .iter()
                .enumerate()
                .filter(|(_, v)| **v != 0)
                .map(|(i, v)| (i as u16, *v))
                .collect(),
            compat: c.compat,
        }
    }

    /// Loads a saved state; nothing changes if it is refused.
    pub fn restore(&mut self, s: &VcpuState) -> Result<(), StateError> {
        if s.pvr != self.cpu.model.pvr {
            return Err(StateError::PvrMismatch {
                expected: self.cpu.model.pvr,
                found: s.pvr,
            });
        }
        if let Some(&(n, _)) = s.sprs.iter().find(|(n, _)| *n >= 1024) {
            return Err(StateError::BadSpr(n));
        }
        self.reset();
        let c = &mut self.cpu;
        c.g[..32].copy_from_slice(&s.gpr);
        c.put_cr(s.cr);
        c.put_xer(s.xer);
        c.lr = s.lr;
        c.ctr = s.ctr;
        c.nip = s.nip;
        c.srr0 = s.srr0;
        c.srr1 = s.srr1;
        c.dar = s.dar;
        c.dsisr = s.dsisr;
        c.cfar = s.cfar;
        c.tar = s.tar;
        c.sprg = s.sprg;
        c.pidr = s.pidr;
        c.lpcr = s.lpcr;
        c.compat = s.compat;
        for &(n, v) in &s.sprs {
            c.spr_store[n as usize] = v;
        }
        c.dec.bits = c.dec_bits();
        let tb = c.tb();
        c.dec.write(s.dec, tb);
        c.set_msr(s.msr);
        c.flush_translations();
        c.reservation = None;
        self.cache.clear();
        Ok(())
    }
}
