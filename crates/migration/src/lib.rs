//! Migration of pseries-rs machines: a versioned, self-describing stream.
//!
//! - [`Migratable`] (and its typed form [`TypedMigratable`]): what every
//!   stateful part implements: name, instance id, version and minimum
//!   version, save, two-phase load, subsections sent only when needed, hooks
//!   before save and after load;
//! - [`StreamWriter`] / [`StreamReader`]: the stream format (see the README
//!   for its bytes): a raw preamble, a header saying what the source machine
//!   was, sections encoded with rmp-serde named fields, bulk sections for
//!   guest RAM, an END record with a CRC32; the reader is bounded (every
//!   length, count and depth is checked before it allocates);
//! - [`Loader`]: the two-phase load: parse and validate everything, run the
//!   machine's compatibility checks, prepare every section, and only then
//!   apply, so that a refused stream leaves the destination untouched;
//! - [`transport`]: `file:`, `unix:` and `tcp:` in both directions, with
//!   errors that say a connection was refused, the peer went away or timed
//!   out; [`MigrationUri`] / [`IncomingUri`] parse QEMU's URI syntax;
//! - [`inspect`]: print a stream's header and sections as text or JSON.
//!
//! The crate is a leaf: it knows nothing of sPAPR. Machine-level rules
//! (machine type, capabilities, CPU model) reach the loader as
//! [`Loader::check`] hooks.

mod bulk;
mod error;
pub mod inspect;
mod loader;
mod migratable;
pub mod stream;
pub mod transport;
mod typed;
mod uri;

use std::io::Write;
use std::sync::Arc;

pub use bulk::BulkSink;
pub use error::MigrationError;
pub use loader::{CheckStage, CompatCheck, IncomingView, LoadReport, Loader};
pub use migratable::{Migratable, PreparedLoad, SectionState, SubsectionState};
pub use stream::{
    BulkDecl, FormatVersion, IncomingSection, Limits, StreamError, StreamHeader, StreamReader,
    StreamWriter,
};
pub use transport::{Connection, Listener, TransportError, TransportOptions};
pub use typed::TypedMigratable;
pub use uri::{IncomingUri, MigrationUri, UriError};

/// Saves `components` (each `pre_save`, then `save`) after `header` into a
/// stream without bulk sections, and returns the transport.
pub fn save<W: Write>(
    out: W,
    header: &StreamHeader,
    components: &[Arc<dyn Migratable>],
) -> Result<W, MigrationError> {
    let mut w = StreamWriter::new(out, header)?;
    for c in components {
        w.save(c.as_ref())?;
    }
    Ok(w.finish()?)
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// [`save`] into a new vector.
pub fn save_to_vec(
    header: &StreamHeader,
    components: &[Arc<dyn Migratable>],
) -> Result<Vec<u8>, MigrationError> {
    save(Vec::new(), header, components)
}
