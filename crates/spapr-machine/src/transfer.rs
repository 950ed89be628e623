//! Migration over the wire: the outgoing side (pause, stream, finish; on
//! failure resume) and the incoming side (listen, accept, load), with URIs
//! in QEMU's syntax (`unix:PATH`, `tcp:HOST:PORT`, `file:PATH`).
//!
//! On a socket there is a return path: once the destination loaded the
//! stream it answers `OK\n`, or `ERR <reason>\n` if it refused it. The
//! source counts the migration done only on `OK`; without it (refusal, the
//! destination vanished after the last byte) the source resumes its guest.
//! A file has no return path: writing it completely is success.

use std::io::{Read, Write};
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
                let bytes = conn.bytes_written();
                if conn.is_socket() {
                    await_ack(&mut conn)?;
                }
                Ok(bytes)
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
        let mut conn = conn;
        let result = self.load_state(&mut conn);
        if conn.is_socket() {
            // The source may be gone already; its side decides from what
            // it reads, and ours from the load's result.
            let answer = match &result {
                Ok(_) => "OK\n".to_string(),
                Err(e) => format!("ERR {}\n", e.to_string().replace('\n', " / ")),
            };
            let _ = conn.write_all(answer.as_bytes());
            let _ = conn.flush();
        }
        Ok(result?)
    }
}

/// Longest answer a destination may send on the return path.
const MAX_ANSWER: usize = 4096;

/// Reads the destination's answer: `OK` or `ERR <reason>`.
fn await_ack(conn: &mut migration::Connection) -> Result<(), TransferError> {
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match conn.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) if answer.len() < MAX_ANSWER => answer.push(byte[0]),
            Ok(_) => {}
            Err(e) => {
                return Err(TransferError::Transport(format!(
                    "no answer from the destination: {e}"
                )))
            }
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    match answer.strip_prefix("ERR ") {
        _ if answer == "OK" => Ok(()),
        Some(reason) => Err(TransferError::Transport(format!(
            "the destination refused the stream: {reason}"
        ))),
        None if answer.is_empty() => Err(TransferError::Transport(
            "the destination closed the connection without confirming the load".into(),
        )),
        None => Err(TransferError::Transport(format!(
            "unexpected answer from the destination: {answer}"
        ))),
    }
}
