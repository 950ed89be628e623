//! The state of one ICS source and its packing into a single atomic word.
//!
//! Every source is one `u64`, so that a device thread raising it, a vCPU
//! ending it and another vCPU re-routing it can all update it with one
//! compare-and-swap, and no lock is needed on the source side at all.
//!
//! | bits  | field            |
//! |-------|------------------|
//! | 0-31  | `server`         |
//! | 32-39 | `priority`       |
//! | 40-47 | `saved_priority` |
//! | 48-55 | `status`         |
//! | 56-63 | `flags`          |

/// Status bit: the LSI input line is asserted.
pub const STATUS_ASSERTED: u8 = 0x01;
/// Status bit: the LSI was sent to a presenter and not yet ended.
pub const STATUS_SENT: u8 = 0x02;
/// Status bit: the MSI was rejected by its presenter and waits for a resend.
pub const STATUS_REJECTED: u8 = 0x04;
/// Status bit: the MSI fired while masked and waits for an unmask.
pub const STATUS_MASKED_PENDING: u8 = 0x08;
/// Status bit QEMU only mirrors from KVM ("presented"); never set here, kept
/// so that incoming streams using it are understood.
pub const STATUS_PRESENTED: u8 = 0x10;
/// Status bit QEMU only mirrors from KVM ("queued"); never set here.
pub const STATUS_QUEUED: u8 = 0x20;
/// Every status bit QEMU defines.
pub const STATUS_ALL: u8 = 0x3F;

/// Flag: the source is claimed as a level-sensitive interrupt.
pub const FLAG_LSI: u8 = 0x01;
/// Flag: the source is claimed as a message (edge) interrupt.
pub const FLAG_MSI: u8 = 0x02;
/// Both type flags; a source with neither is not allocated.
pub const FLAG_MASK: u8 = 0x03;

/// The least favoured priority, which masks a source.
pub const PRIORITY_MASKED: u8 = 0xFF;

/// What kind of interrupt a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// Level-sensitive: presented again while the line stays asserted.
    Lsi,
    /// Message-signalled (edge): one presentation per trigger.
    Msi,
}

/// A snapshot of one source, in QEMU's `ICSIRQState` terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceState {
    /// Destination interrupt server number.
    pub server: u32,
    /// Current priority; [`PRIORITY_MASKED`] masks the source.
    pub priority: u8,
    /// Priority `ibm,int-on` restores.
    pub saved_priority: u8,
    /// `STATUS_*` bits.
    pub status: u8,
    /// `FLAG_*` bits; 0 means not allocated.
    pub flags: u8,
}

impl SourceState {
    /// The state of a source after an ICS reset: routing cleared, masked,
    /// allocation (`flags`) kept.
    pub const fn reset(flags: u8) -> Self {
        Self {
            server: 0,
            priority: PRIORITY_MASKED,
            saved_priority: PRIORITY_MASKED,
            status: 0,
            flags,
        }
    }

    /// Packs into the atomic word layout.
    #[inline]
    pub const fn pack(self) -> u64 {
        self.server as u64
            | (self.priority as u64) << 32
            | (self.saved_priority as u64) << 40
            | (self.status as u64) << 48
            | (self.flags as u64) << 56
    }

    /// Unpacks the atomic word layout.
    #[inline]
    pub const fn unpack(word: u64) -> Self {
        Self {
            server: word as u32,
            priority: (word >> 32) as u8,
            saved_priority: (word >> 40) as u8,
            status: (word >> 48) as u8,
            flags: (word >> 56) as u8,
        }
    }

    /// Whether the source is claimed (LSI or MSI).
    #[inline]
    pub const fn is_claimed(&self) -> bool {
        self.flags & FLAG_MASK != 0
    }

    /// Whether the source is claimed as an LSI.
    #[inline]
    pub const fn is_lsi(&self) -> bool {
        self.flags & FLAG_LSI != 0
    }

    /// Whether the source is masked (priority 0xFF).
    #[inline]
    pub const fn is_masked(&self) -> bool {
        self.priority == PRIORITY_MASKED
    }

    /// Whether the source has something the ICS resend pass must look at:
    /// a rejected MSI, or an asserted, unmasked LSI not sent yet.
    #[inline]
    pub const fn needs_resend(&self) -> bool {
        if self.is_lsi() {
            !self.is_masked()
                && self.status & STATUS_ASSERTED != 0
                && self.status & STATUS_SENT == 0
        } else {
            self.flags & FLAG_MSI != 0 && self.status & STATUS_REJECTED != 0
        }
    }

    /// The kind, if claimed.
    pub const fn kind(&self) -> Option<SourceKind> {
        if self.flags & FLAG_LSI != 0 {
            Some(SourceKind::Lsi)
        } else if self.flags & FLAG_MSI != 0 {
            Some(SourceKind::Msi)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips_every_field() {
        let s = SourceState {
            server: 0xDEAD_BEEF,
            priority: 5,
            saved_priority: 0x77,
            status: STATUS_REJECTED | STATUS_ASSERTED,
            flags: FLAG_LSI,
        };
        assert_eq!(SourceState::unpack(s.pack()), s);
        let r = SourceState::reset(FLAG_MSI);
        assert_eq!(SourceState::unpack(r.pack()), r);
        assert!(r.is_masked() && r.is_claimed() && !r.is_lsi());
    }

    #[test]
    fn resend_condition_follows_the_source_type() {
        let mut lsi = SourceState::reset(FLAG_LSI);
        lsi.status = STATUS_ASSERTED;
        assert!(!lsi.needs_resend(), "masked LSI");
        lsi.priority = 5;
        assert!(lsi.needs_resend());
        lsi.status |= STATUS_SENT;
        assert!(!lsi.needs_resend());
        let mut msi = SourceState::reset(FLAG_MSI);
        msi.status = STATUS_REJECTED;
        assert!(msi.needs_resend(), "rejected MSI, even masked");
        msi.flags = 0;
        assert!(!msi.needs_resend(), "unclaimed");
    }
}
