//! PAPR constants shared by the controllers and the machine: hcall return
//! codes, hcall opcodes and RTAS status codes.
//!
//! The values are the ones Linux's `hvcall.h` and QEMU's `spapr.h` use.

/// Return codes of hypervisor calls (r3 after `sc 1`).
pub mod h {
    /// Success.
    pub const SUCCESS: i64 = 0;
    /// Resource busy, call again.
    pub const BUSY: i64 = 1;
    /// Hardware error.
    pub const HARDWARE: i64 = -1;
    /// Function not implemented or not allowed in this mode.
    pub const FUNCTION: i64 = -2;
    /// Privileged call from a non-privileged mode.
    pub const PRIVILEGE: i64 = -3;
    /// Bad parameter.
    pub const PARAMETER: i64 = -4;
    /// Bad parameter 2.
    pub const P2: i64 = -55;
    /// Bad parameter 3.
    pub const P3: i64 = -56;
    /// Bad parameter 4.
    pub const P4: i64 = -57;
    /// Bad parameter 5.
    pub const P5: i64 = -58;
    /// Bad parameter 6.
    pub const P6: i64 = -59;
    /// Bad parameter 7.
    pub const P7: i64 = -60;
    /// Other vCPUs are still running (CAS).
    pub const MULTI_THREADS_ACTIVE: i64 = -9005;
}

/// Hypervisor call opcodes (r3 before `sc 1`).
pub mod hcall {
    /// End of interrupt (XICS).
    pub const H_EOI: u64 = 0x64;
    /// Set current processor priority (XICS).
    pub const H_CPPR: u64 = 0x68;
    /// Set MFRR, raising an IPI (XICS).
    pub const H_IPI: u64 = 0x6C;
    /// Poll a presenter (XICS).
    pub const H_IPOLL: u64 = 0x70;
    /// Accept an interrupt (XICS).
    pub const H_XIRR: u64 = 0x74;
    /// Accept an interrupt and read the timebase (XICS).
    pub const H_XIRR_X: u64 = 0x2FC;
    /// XIVE: source information.
    pub const H_INT_GET_SOURCE_INFO: u64 = 0x3A8;
    /// XIVE: route a source.
    pub const H_INT_SET_SOURCE_CONFIG: u64 = 0x3AC;
    /// XIVE: read a source's route.
    pub const H_INT_GET_SOURCE_CONFIG: u64 = 0x3B0;
    /// XIVE: event queue information.
    pub const H_INT_GET_QUEUE_INFO: u64 = 0x3B4;
    /// XIVE: configure an event queue.
    pub const H_INT_SET_QUEUE_CONFIG: u64 = 0x3B8;
    /// XIVE: read an event queue's configuration.
    pub const H_INT_GET_QUEUE_CONFIG: u64 = 0x3BC;
    /// XIVE: set the OS reporting line (unimplemented in sPAPR).
    pub const H_INT_SET_OS_REPORTING_LINE: u64 = 0x3C0;
    /// XIVE: get the OS reporting line (unimplemented in sPAPR).
    pub const H_INT_GET_OS_REPORTING_LINE: u64 = 0x3C4;
    /// XIVE: ESB load or store through the hypervisor.
    pub const H_INT_ESB: u64 = 0x3C8;
    /// XIVE: synchronise a source.
    pub const H_INT_SYNC: u64 = 0x3CC;
    /// XIVE: reset all routing.
    pub const H_INT_RESET: u64 = 0x3D0;
}

/// RTAS status codes (first return word).
pub mod rtas {
    /// Success.
    pub const SUCCESS: i32 = 0;
    /// Hardware error.
    pub const HW_ERROR: i32 = -1;
    /// Busy, call again.
    pub const BUSY: i32 = -2;
    /// Parameter error.
    pub const PARAMETER_ERROR: i32 = -3;
    /// First token of QEMU's fixed RTAS token table.
    pub const TOKEN_BASE: u32 = 0x2000;
}
