//! XIVE, the POWER9 interrupt controller, in two layers.
//!
//! - [`engine`]: sources and ESB pages, the router (EAS, END with event
//!   queues in guest memory, NVT lookup, escalation), thread contexts and
//!   the TIMA, matched by CAM line. No sPAPR in it; usable on its own
//!   (`examples/engine.rs`).
//! - [`spapr`]: the sPAPR exploitation-mode controller built on the engine,
//!   implementing [`spapr_irq::InterruptController`] and registered as the
//!   `"xive"` backend (capability `cap-xive`, CAS "XIVE exploitation").
//!
//! Threads: vCPU threads (TIMA, ESB, hcalls) and device threads
//! (`set_irq`) run concurrently. Source state is one atomic byte per
//! source, EAS entries are atomics, each END and each thread context has
//! its own lock, and the CAM index is sharded; nothing on the event path
//! allocates or takes a lock that every vCPU shares.

pub mod engine;
pub mod error;
pub mod spapr;

pub use error::XiveError;
pub use spapr::SpaprXive;

/// `KVM_DEV_TYPE_XIVE` in Linux's `include/uapi/linux/kvm.h` (the ninth
/// entry of `enum kvm_device_type`).
pub const KVM_DEV_TYPE_XIVE: u32 = 9;

spapr_irq::inventory::submit! {
    spapr_irq::Backend {
        name: "xive",
        capability: "xive",
        cas_ov5: 0x40,
        cas_mode: "XIVE exploitation",
        line_bit: 1,
        kvm_device_type: Some(KVM_DEV_TYPE_XIVE),
        order: 1,
        factory: spapr::create,
    }
}
