//! Notification Virtual Targets, looked up through a trait the owner of
//! the router implements.
//!
//! The engine only needs an NVT's validity, its saved IPB (backlog) and its
//! escalation END; where NVTs live is the owner's business: sPAPR keeps no
//! table at all (an NVT is valid when its vCPU exists), a bare-metal model
//! would read them from guest memory. [`NvtTable`] is a ready-made table in
//! host memory for owners that want one.

use parking_lot::Mutex;

use crate::engine::regs::nvt;

/// An NVT: 16 architected words, of which the engine uses w0, w1 and w4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nvt {
    /// Words 0 to 15.
    pub w: [u32; 16],
}

impl Nvt {
    /// A valid NVT with nothing pending.
    pub const VALID: Nvt = {
        let mut w = [0; 16];
        w[0] = nvt::W0_VALID;
        Nvt { w }
    };

    /// w0 VALID.
    pub fn is_valid(&self) -> bool {
        self.w[0] & nvt::W0_VALID != 0
    }

    /// The IPB saved in w4.
    pub fn ipb(&self) -> u8 {
        ((self.w[4] & nvt::W4_IPB) >> 8) as u8
    }

    /// Sets the IPB saved in w4.
    pub fn set_ipb(&mut self, ipb: u8) {
        self.w[4] = (self.w[4] & !nvt::W4_IPB) | (u32::from(ipb) << 8);
    }
}

/// The CAM line of NVT `block/index`: `block << 19 | index`.
#[inline]
pub const fn cam_line(block: u8, index: u32) -> u32 {
    ((block as u32) << nvt::CAM_SHIFT) | (index & nvt::INDEX_MASK)
}

/// Why an NVT could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NvtError {
    /// No such NVT.
    #[error("XIVE: no NVT {0:x}/{1:x}")]
    NoSuchNvt(u8, u32),
    /// The owner keeps no writable NVTs.
    #[error("XIVE: NVT {0:x}/{1:x} cannot be written")]
    ReadOnly(u8, u32),
}

/// Where the router finds NVTs. Called from any thread, on the hot path
/// (`get_nvt` for every notification): implementations must not allocate
/// or take a lock shared by every vCPU.
pub trait NvtBackend: Send + Sync {
    /// The NVT `block/index`, or `None` if it does not exist.
    fn get_nvt(&self, block: u8, index: u32) -> Option<Nvt>;

    /// Writes back word `word` of NVT `block/index` (backlog IPB, w4).
    fn write_nvt(&self, block: u8, index: u32, nvt: &Nvt, word: usize) -> Result<(), NvtError>;
}

/// NVTs in host memory: `len` entries of one block, each behind its own
/// lock.
#[derive(Debug)]
pub struct NvtTable {
    block: u8,
    entries: Box<[Mutex<Nvt>]>,
}

impl NvtTable {
    /// `len` valid NVTs of `block` with indices `0..len`.
    pub fn new(block: u8, len: u32) -> Self {
        Self {
            block,
            entries: (0..len).map(|_| Mutex::new(Nvt::VALID)).collect(),
        }
    }

    /// Replaces NVT `index`.
    pub fn set(&self, index: u32, nvt: Nvt) -> bool {
        match self.entries.get(index as usize) {
            Some(e) => {
                *e.lock() = nvt;
                true
            }
            None => false,
        }
    }
}

impl NvtBackend for NvtTable {
    fn get_nvt(&self, block: u8, index: u32) -> Option<Nvt> {
        if block != self.block {
            return None;
        }
        self.entries.get(index as usize).map(|e| *e.lock())
    }

    fn write_nvt(&self, block: u8, index: u32, nvt: &Nvt, word: usize) -> Result<(), NvtError> {
        if block != self.block {
            return Err(NvtError::NoSuchNvt(block, index));
        }
        let e = self
            .entries
            .get(index as usize)
            .ok_or(NvtError::NoSuchNvt(block, index))?;
        let mut g = e.lock();
        if let Some(v) = nvt.w.get(word) {
            g.w[word] = *v;
        }
        Ok(())
    }
}
