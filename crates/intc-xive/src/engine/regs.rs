//! Bit layouts of the XIVE structures and thread-context registers.
//!
//! IBM numbering (bit 0 is the most significant) is turned into plain masks
//! here once, so the rest of the engine works with masks and shifts. Every
//! in-memory structure (EAS, END, NVT, TIMA word 2) is big-endian in the
//! architecture; the engine keeps the words as numbers and converts only
//! where bytes are exchanged (TIMA raw accesses, migration).

/// Highest valid priority; 0xFF means "least favoured" (masked).
pub const PRIORITY_MAX: u8 = 7;

/// Reads the field `mask` of `word`, shifted down.
#[inline]
pub const fn get_field32(mask: u32, word: u32) -> u32 {
    (word & mask) >> mask.trailing_zeros()
}

/// Returns `word` with the field `mask` set to `value`.
#[inline]
pub const fn set_field32(mask: u32, word: u32, value: u32) -> u32 {
    (word & !mask) | ((value << mask.trailing_zeros()) & mask)
}

/// Reads the field `mask` of a 64-bit `word`, shifted down.
#[inline]
pub const fn get_field64(mask: u64, word: u64) -> u64 {
    (word & mask) >> mask.trailing_zeros()
}

/// Returns the 64-bit `word` with the field `mask` set to `value`.
#[inline]
pub const fn set_field64(mask: u64, word: u64, value: u64) -> u64 {
    (word & !mask) | ((value << mask.trailing_zeros()) & mask)
}

/// IPB bit of a priority: `0x80 >> p`, or 0 for priorities above 7.
#[inline]
pub const fn priority_to_ipb(priority: u8) -> u8 {
    if priority > PRIORITY_MAX {
        0
    } else {
        0x80 >> priority
    }
}

/// PIPR from an IPB: the most favoured (lowest) pending priority, 0xFF if
/// nothing is pending.
#[inline]
pub const fn ipb_to_pipr(ipb: u8) -> u8 {
    if ipb == 0 {
        0xFF
    } else {
        ipb.leading_zeros() as u8
    }
}

/// Event Assignment Structure (one 64-bit word per source).
pub mod eas {
    /// The entry is valid (the source exists).
    pub const VALID: u64 = 0x8000_0000_0000_0000;
    /// Block of the END the event goes to.
    pub const END_BLOCK: u64 = 0x0F00_0000_0000_0000;
    /// Index of the END the event goes to.
    pub const END_INDEX: u64 = 0x00FF_FFFF_0000_0000;
    /// Events of this source are dropped after the PQ check.
    pub const MASKED: u64 = 0x0000_0000_8000_0000;
    /// Event data written into the queue (EISN).
    pub const END_DATA: u64 = 0x0000_0000_7FFF_FFFF;
}

/// Event Notification Descriptor words (eight 32-bit words).
pub mod end {
    /// w0: the END is valid.
    pub const W0_VALID: u32 = 0x8000_0000;
    /// w0: events are written into the event queue.
    pub const W0_ENQUEUE: u32 = 0x4000_0000;
    /// w0: notify unconditionally (skip the ESn coalescing).
    pub const W0_UCOND_NOTIFY: u32 = 0x2000_0000;
    /// w0: record undelivered priorities in the NVT (backlog).
    pub const W0_BACKLOG: u32 = 0x1000_0000;
    /// w0: precluded escalation control.
    pub const W0_PRECL_ESC_CTL: u32 = 0x0800_0000;
    /// w0: escalation is enabled.
    pub const W0_ESCALATE_CTL: u32 = 0x0400_0000;
    /// w0: escalate without the ESe coalescing.
    pub const W0_UNCOND_ESCALATE: u32 = 0x0200_0000;
    /// w0: skip notification, only escalate.
    pub const W0_SILENT_ESCALATE: u32 = 0x0100_0000;
    /// w0: queue size, log2(bytes) - 12.
    pub const W0_QSIZE: u32 = 0x000F_0000;
    /// w0: firmware / SW0 bit.
    pub const W0_SW0: u32 = 0x0000_8000;
    /// w0: hardware dependent byte.
    pub const W0_HWDEP: u32 = 0x0000_00FF;
    /// w1: ESn, notification PQ bits.
    pub const W1_ESN: u32 = 0xC000_0000;
    /// w1: ESn P bit.
    pub const W1_ESN_P: u32 = 0x8000_0000;
    /// w1: ESn Q bit.
    pub const W1_ESN_Q: u32 = 0x4000_0000;
    /// w1: ESe, escalation PQ bits.
    pub const W1_ESE: u32 = 0x3000_0000;
    /// w1: ESe P bit.
    pub const W1_ESE_P: u32 = 0x2000_0000;
    /// w1: ESe Q bit.
    pub const W1_ESE_Q: u32 = 0x1000_0000;
    /// w1: queue generation bit written into each entry.
    pub const W1_GENERATION: u32 = 0x0040_0000;
    /// w1: queue index (page offset counter).
    pub const W1_PAGE_OFF: u32 = 0x003F_FFFF;
    /// w2: migration register.
    pub const W2_MIGRATION_REG: u32 = 0xF000_0000;
    /// w2: queue address bits 32..59.
    pub const W2_OP_DESC_HI: u32 = 0x0FFF_FFFF;
    /// w4: escalation END block.
    pub const W4_ESC_END_BLOCK: u32 = 0x0F00_0000;
    /// w4: escalation END index.
    pub const W4_ESC_END_INDEX: u32 = 0x00FF_FFFF;
    /// w5: escalation event data.
    pub const W5_ESC_END_DATA: u32 = 0x7FFF_FFFF;
    /// w6: format bit (0: NVT notification, 1: user-level EBB).
    pub const W6_FORMAT_BIT: u32 = 0x0080_0000;
    /// w6: NVT block.
    pub const W6_NVT_BLOCK: u32 = 0x0078_0000;
    /// w6: NVT index.
    pub const W6_NVT_INDEX: u32 = 0x0007_FFFF;
    /// w7 (F=0): ignore low NVT bits (logical server notification).
    pub const W7_F0_IGNORE: u32 = 0x8000_0000;
    /// w7 (F=0): block grouping.
    pub const W7_F0_BLK_GROUPING: u32 = 0x4000_0000;
    /// w7 (F=0): notification priority.
    pub const W7_F0_PRIORITY: u32 = 0x00FF_0000;
    /// w7 (F=1): wake-z bit.
    pub const W7_F1_WAKEZ: u32 = 0x8000_0000;
    /// w7 (F=1): logical server id.
    pub const W7_F1_LOG_SERVER_ID: u32 = 0x7FFF_FFFF;
}

/// Notification Virtual Target words used by the engine.
pub mod nvt {
    /// w0: the NVT is valid.
    pub const W0_VALID: u32 = 0x8000_0000;
    /// w1: escalation END block.
    pub const W1_EQ_BLOCK: u32 = 0xF000_0000;
    /// w1: escalation END index.
    pub const W1_EQ_INDEX: u32 = 0x0FFF_FFFF;
    /// w4: interrupt pending buffer saved while the NVT is not dispatched.
    pub const W4_IPB: u32 = 0x0000_FF00;
    /// Shift of the block in a CAM line: `(block << 19) | index`.
    pub const CAM_SHIFT: u32 = 19;
    /// Largest NVT index in a CAM line.
    pub const INDEX_MASK: u32 = (1 << CAM_SHIFT) - 1;
}

/// Thread interrupt management area: ring and register offsets.
pub mod tm {
    /// Quad-word of the USER ring.
    pub const QW0_USER: usize = 0x00;
    /// Quad-word of the OS ring.
    pub const QW1_OS: usize = 0x10;
    /// Quad-word of the hypervisor POOL ring.
    pub const QW2_HV_POOL: usize = 0x20;
    /// Quad-word of the hypervisor PHYS ring.
    pub const QW3_HV_PHYS: usize = 0x30;
    /// Notification source register.
    pub const NSR: usize = 0x0;
    /// Current processor priority register.
    pub const CPPR: usize = 0x1;
    /// Interrupt pending buffer.
    pub const IPB: usize = 0x2;
    /// Logical server most favoured backlog.
    pub const LSMFB: usize = 0x3;
    /// Acknowledge counter.
    pub const ACK_CNT: usize = 0x4;
    /// Increment.
    pub const INC: usize = 0x5;
    /// Age.
    pub const AGE: usize = 0x6;
    /// Pending interrupt priority register.
    pub const PIPR: usize = 0x7;
    /// Word 2 (context valid bit and CAM line).
    pub const WORD2: usize = 0x8;
    /// OS ring NSR: exception pending for the OS.
    pub const QW1_NSR_EO: u8 = 0x80;
    /// PHYS ring NSR: hypervisor exception field.
    pub const QW3_NSR_HE: u8 = 0xC0;
    /// HE value: POOL ring exception.
    pub const NSR_HE_POOL: u8 = 1;
    /// HE value: PHYS ring exception.
    pub const NSR_HE_PHYS: u8 = 2;
    /// HE value: LSI.
    pub const NSR_HE_LSI: u8 = 3;
    /// QW0 word 2: user context valid.
    pub const QW0W2_VU: u32 = 0x8000_0000;
    /// QW0 word 2: logical server.
    pub const QW0W2_LOGIC_SERV: u32 = 0x7FFF_FFFF;
    /// QW1 word 2: OS context valid.
    pub const QW1W2_VO: u32 = 0x8000_0000;
    /// QW1 word 2: OS CAM line.
    pub const QW1W2_OS_CAM: u32 = 0x00FF_FFFF;
    /// QW2 word 2: pool context valid.
    pub const QW2W2_VP: u32 = 0x8000_0000;
    /// QW2 word 2: pool CAM line.
    pub const QW2W2_POOL_CAM: u32 = 0x00FF_FFFF;
    /// QW3 word 2: physical thread valid.
    pub const QW3W2_VT: u32 = 0x8000_0000;
    /// QW3 word 2: LP bit.
    pub const QW3W2_LP: u32 = 0x0200_0000;
    /// QW3 word 2: LE bit.
    pub const QW3W2_LE: u32 = 0x0100_0000;
    /// QW3 word 2: T bit.
    pub const QW3W2_T: u32 = 0x0000_0001;

    /// Shift of the TIMA page index (each view is a 64K page).
    pub const PAGE_SHIFT: u32 = 16;
    /// Offset bits that select the operation (special-op bit, bit 10 and
    /// the register); the snoop-port bits in between are ignored.
    pub const ADDRESS_MASK: u64 = 0xC3F;
    /// Offsets with this bit are special operations with side effects.
    pub const SPECIAL_OP: u64 = 0x800;
    /// Ring part of a register offset.
    pub const RING_OFFSET: u64 = 0x30;
    /// Register part of an offset.
    pub const REG_OFFSET: u64 = 0x3F;

    /// Acknowledge the OS ring (2-byte load, OS page).
    pub const SPC_ACK_OS_REG: u64 = 0x810;
    /// Set an OS pending priority (1-byte store, OS page).
    pub const SPC_SET_OS_PENDING: u64 = 0x812;
    /// Pull the OS context (4/8-byte load, HV page).
    pub const SPC_PULL_OS_CTX: u64 = 0x818;
    /// Pull the pool context (4/8-byte load, HV page).
    pub const SPC_PULL_POOL_CTX: u64 = 0x828;
    /// Acknowledge the hypervisor rings (2-byte load, HV page).
    pub const SPC_ACK_HV_REG: u64 = 0x830;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_helpers() {
        assert_eq!(priority_to_ipb(0), 0x80);
        assert_eq!(priority_to_ipb(6), 0x02);
        assert_eq!(priority_to_ipb(7), 0x01);
        assert_eq!(priority_to_ipb(8), 0);
        assert_eq!(priority_to_ipb(0xFF), 0);
        assert_eq!(ipb_to_pipr(0), 0xFF);
        assert_eq!(ipb_to_pipr(0x02), 6);
        assert_eq!(ipb_to_pipr(0x03), 6);
        assert_eq!(ipb_to_pipr(0x81), 0);
    }

    #[test]
    fn fields() {
        assert_eq!(get_field32(end::W7_F0_PRIORITY, 0x0006_0000), 6);
        assert_eq!(set_field32(end::W1_PAGE_OFF, 0x0040_0000, 5), 0x0040_0005);
        assert_eq!(
            set_field64(eas::END_INDEX, eas::VALID, 0x36),
            0x8000_0036_0000_0000
        );
        assert_eq!(
            get_field64(eas::END_DATA, 0xFFFF_FFFF_FFFF_FFFF),
            0x7FFF_FFFF
        );
    }
}
