//! XIVE, the POWER9 interrupt controller, in two layers.
//!
//! - [`engine`]: sources and ESB pages, the router (EAS, END with event
//!   queues in guest memory, NVT lookup, escalation), thread contexts and
//!   the TIMA, matched by CAM line. No sPAPR in it; usable on its own.
//! - [`spapr`]: the sPAPR exploitation-mode controller built on the engine,
//!   implementing [`spapr_irq::InterruptController`] and registered as the
//!   `"xive"` backend.

pub mod engine;
pub mod error;

pub use error::XiveError;
