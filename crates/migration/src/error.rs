//! The crate's top-level error, [`MigrationError`].
//!
//! Errors of the stream layer ([`StreamError`]), of the transports
//! ([`TransportError`]) and of URI parsing ([`UriError`]) are wrapped
//! transparently, so their text is what the user sees.

use crate::stream::StreamError;
use crate::transport::TransportError;
use crate::uri::UriError;

/// Errors of the migration layer: a component's own refusal, a stream that
/// does not match the destination, or a failure of the stream or transport
/// underneath.
///
/// Where QEMU has words for the same situation the message uses them, so that
/// an operator who knows QEMU's migration errors recognises ours.
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
    /// A section of the stream has no counterpart on the destination (QEMU's
    /// words, including its advice).
    #[error(
        "Unknown section or instance '{name}' {instance}. Make sure that your current VM setup \
         matches your saved VM setup, including any hotplugged devices"
    )]
    UnknownSection {
        /// Section name in the stream.
        name: String,
        /// Instance id in the stream.
        instance: u32,
    },
    /// A section the destination has is absent from the stream, and the
    /// component's reset state cannot stand in for it.
    #[error(
        "section '{name}' instance {instance} is missing from the incoming stream, and its \
         reset state cannot stand in for it. Make sure that your current VM setup matches \
         the source's"
    )]
    MissingSection {
        /// Section name on the destination.
        name: String,
        /// Instance id on the destination.
        instance: u32,
    },
    /// The same section and instance appear twice: in the stream, or among
    /// the destination's components.
    #[error("section '{name}' instance {instance} appears twice {place}")]
    DuplicateSection {
        /// Section name.
        name: String,
        /// Instance id.
        instance: u32,
        /// `in the incoming stream` or `among the destination's components`.
        place: &'static str,
    },
    /// A section failed to load; QEMU's prefix, then the reason.
    #[error("error while loading state for instance 0x{instance:x} of device '{name}': {source}")]
    InSection {
        /// Section name.
        name: String,
        /// Instance id.
        instance: u32,
        /// What went wrong.
        #[source]
        source: Box<MigrationError>,
    },
    /// A compatibility check supplied by the machine refused the stream; the
    /// text is the check's (e.g. `cap-cfpc higher level (1) in incoming
    /// stream than on destination (0)`).
    #[error("{reason}")]
    Incompatible {
        /// Name the check was registered under.
        check: String,
        /// Why the stream cannot be loaded here.
        reason: String,
    },
    /// A component's `post_load` failed after the state was applied.
    #[error(
        "post load hook failed for: {section}, version_id: {version_id}, minimum_version: \
         {minimum_version_id}: {reason}"
    )]
    PostLoad {
        /// Section name.
        section: String,
        /// Version of the incoming section.
        version_id: u32,
        /// Local minimum version.
        minimum_version_id: u32,
        /// What the hook said.
        reason: String,
    },
    /// A bulk destination (guest RAM) failed to take the data.
    #[error("bulk section '{name}' instance {instance}: {reason}")]
    Bulk {
        /// Bulk section name.
        name: String,
        /// Instance id.
        instance: u32,
        /// What went wrong.
        reason: String,
    },
    /// The stream is malformed, truncated, corrupted or over a limit.
    #[error(transparent)]
    Stream(StreamError),
    /// The transport failed (refused connection, peer gone, timeout).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The migration URI is not valid.
    #[error(transparent)]
    Uri(#[from] UriError),
}

impl MigrationError {
    /// Shorthand for [`MigrationError::Invalid`], for components refusing
    /// decoded values in `prepare_load`.
    pub fn invalid(section: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            section: section.to_owned(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`MigrationError::Incompatible`], for compatibility
    /// checks.
    pub fn incompatible(check: &str, reason: impl Into<String>) -> Self {
        Self::Incompatible {
            check: check.to_owned(),
            reason: reason.into(),
        }
    }

    /// The innermost error, past the [`MigrationError::InSection`] prefixes.
    pub fn root(&self) -> &MigrationError {
        match self {
            Self::InSection { source, .. } => source.root(),
            other => other,
        }
    }
}

/// A transport failure met by the stream layer arrives wrapped in an
/// [`std::io::Error`]; it is lifted out so the user reads the transport's
/// words.
impl From<StreamError> for MigrationError {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::Io { offset, source } => {
                if source.get_ref().is_some_and(|i| i.is::<TransportError>()) {
                    let kind = source.kind();
                    match source.into_inner().map(|i| i.downcast::<TransportError>()) {
                        Some(Ok(t)) => Self::Transport(*t),
                        Some(Err(other)) => Self::Stream(StreamError::Io {
                            offset,
                            source: std::io::Error::new(kind, other),
                        }),
                        None => Self::Stream(StreamError::Io {
                            offset,
                            source: kind.into(),
                        }),
                    }
                } else {
                    Self::Stream(StreamError::Io { offset, source })
                }
            }
            other => Self::Stream(other),
        }
    }
}
