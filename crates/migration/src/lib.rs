//! Migration of pseries-rs machines: the `Migratable` trait every stateful
//! part implements, and the section state it produces and consumes.
//!
//! This crate is a leaf: it knows nothing of sPAPR, so the interrupt
//! controllers, the machine and the vCPU can all describe their state with it.

mod migratable;

pub use migratable::{Migratable, PreparedLoad, SectionState, SubsectionState};

/// Errors of the migration layer.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The section's state could not be encoded.
    #[error("{section}: cannot encode state: {reason}")]
    Encode {
        /// Section name.
        section: String,
        /// What the encoder said.
        reason: String,
    },
    /// The section's state could not be decoded.
    #[error("{section}: cannot decode state: {reason}")]
    Decode {
        /// Section name.
        section: String,
        /// What the decoder said.
        reason: String,
    },
    /// The section's state decoded but its values are not acceptable.
    #[error("{section}: {reason}")]
    Invalid {
        /// Section name.
        section: String,
        /// Why the state was refused.
        reason: String,
    },
    /// Incoming version id is newer than the local one.
    #[error("{section}: incoming version_id {incoming} is too new for local version_id {local}")]
    TooNew {
        /// Section name.
        section: String,
        /// Version in the stream.
        incoming: u32,
        /// Version of this build.
        local: u32,
    },
    /// Incoming version id is older than the local minimum.
    #[error("{section}: incoming version_id {incoming} is too old for local minimum version_id {minimum}")]
    TooOld {
        /// Section name.
        section: String,
        /// Version in the stream.
        incoming: u32,
        /// Oldest version this build loads.
        minimum: u32,
    },
    /// A subsection in the stream is unknown to the destination.
    #[error("VM subsection '{subsection}' in '{section}' does not exist")]
    UnknownSubsection {
        /// Parent section name.
        section: String,
        /// Subsection name.
        subsection: String,
    },
}
