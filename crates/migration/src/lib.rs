//! Migration of pseries-rs machines: the `Migratable` trait every stateful
//! part implements, and the section state it produces and consumes.
//!
//! This crate is a leaf: it knows nothing of sPAPR, so the interrupt
//! controllers, the machine and the vCPU can all describe their state with it.

mod error;
mod migratable;
mod typed;

pub use error::MigrationError;
pub use migratable::{Migratable, PreparedLoad, SectionState, SubsectionState};
pub use typed::TypedMigratable;
