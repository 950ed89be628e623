//! Migration over the wire: the outgoing side (pause, stream, finish; on
//! failure resume) and the incoming side (listen, accept, load), with URIs
//! in QEMU's syntax (`unix:PATH`, `tcp:HOST:PORT`, `file:PATH`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use migration::transport::{connect, listen};
use migration::{LoadReport, MigrationUri, TransportOptions};

use crate::machine::Machine;
use crate::migrate::MachineMigrationError;

/// What an outgoing migration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutgoingStats {
    /// Bytes written.
    pub bytes: u64,
    /// From the request to the end.
    pub total: Duration,
    /// vCPUs paused: from the pause to the end of the stream.
    pub downtime: Duration,
}

/// Why a migration over the wire failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The URI is malformed or unsupported.
    #[error("{0}")]
    Uri(String),
    /// The channel failed (refused, peer gone, timeout).
    #[error("{0}")]
    Transport(String),
    /// The stream or the machine refused it.
    #[error(transparent)]
    Machine(#[from] MachineMigrationError),
}

impl Machine {
    /// Migrates this machine to `uri`: pauses the vCPUs, streams everything,
    /// and waits for the channel to close cleanly. On success the machine
    /// stays paused (QEMU's `postmigrate`); on any failure it resumes if it
    /// was running, so the guest goes on with nothing lost.
    pub fn migrate_to(
        self: &Arc<Self>,
        uri: &str,
        opts: &TransportOptions,
    ) -> Result<OutgoingStats, TransferError> {
        let start = Instant::now();
        let uri =
            MigrationUri::parse_outgoing(uri).map_err(|e| TransferError::Uri(e.to_string()))?;
        let was_running = !self.is_paused();
        let conn = connect(&uri, opts).map_err(|e| TransferError::Transport(e.to_string()))?;
        self.pause();
        let paused_at = Instant::now();
        let result = self
            .save_state(conn)
            .map_err(TransferError::from)
            .and_then(|mut conn| {
                conn.finish()
                    .map_err(|e| TransferError::Transport(e.to_string()))?;
                Ok(conn.bytes_written())
            });
        match result {
            Ok(bytes) => Ok(OutgoingStats {
                bytes,
                total: start.elapsed(),
                downtime: paused_at.elapsed(),
            }),
            Err(e) => {
                tracing::warn!("migration to {uri} failed: {e}");
                if was_running {
                    self.resume();
                }
                Err(e)
            }
        }
    }

    /// Waits for a source on `uri`, then loads its stream. `accepted` runs
    /// once the connection is there (a unix socket file is removed by then,
    /// as QEMU's destination does). The machine must not be running.
    pub fn migrate_from(
        self: &Arc<Self>,
        uri: &str,
        opts: &TransportOptions,
        accepted: impl FnOnce(),
    ) -> Result<LoadReport, TransferError> {
        let uri =
            MigrationUri::parse_incoming(uri).map_err(|e| TransferError::Uri(e.to_string()))?;
        let conn = {
            let listener =
                listen(&uri, opts).map_err(|e| TransferError::Transport(e.to_string()))?;
            listener
                .accept()
                .map_err(|e| TransferError::Transport(e.to_string()))?
            // The listener drops here: its socket file goes away.
        };
        accepted();
        Ok(self.load_state(conn)?)
    }
}
