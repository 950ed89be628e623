//! Transports: files, unix sockets and TCP, both directions.
//!
//! A [`Connection`] is a plain [`Read`] + [`Write`] for the stream reader and
//! writer. What makes it more than a socket is its errors: a connection the
//! peer closed or reset in the middle of the stream, or that stayed silent
//! past the I/O timeout, fails with an [`io::Error`] carrying a
//! [`TransportError`] that names the peer and how many bytes went through;
//! the stream layer lifts it out, so the user reads "migration peer
//! tcp:127.0.0.1:4444 went away after 1234 bytes" rather than "unexpected
//! end of file".
//!
//! On sockets the reader never asks for bytes past the END record, so an end
//! of file seen by a socket [`Connection`] always means the peer is gone.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::uri::MigrationUri;

/// Errors of the transports, in QEMU's words where it has them.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Nobody listens at the address.
    #[error("Failed to connect to '{addr}': Connection refused")]
    ConnectionRefused {
        /// `host:port` or socket path.
        addr: String,
    },
    /// The connection was not established in time.
    #[error("Failed to connect to '{addr}': timed out after {} ms", after.as_millis())]
    ConnectTimeout {
        /// `host:port`.
        addr: String,
        /// The timeout.
        after: Duration,
    },
    /// Another connection failure.
    #[error("Failed to connect to '{addr}': {}", os_text(source))]
    Connect {
        /// `host:port` or socket path.
        addr: String,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// Binding or listening failed.
    #[error("Failed to listen on '{addr}': {}", os_text(source))]
    Listen {
        /// The address.
        addr: String,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// No source connected in time.
    #[error("no incoming migration connection on {uri} within {} ms", after.as_millis())]
    AcceptTimeout {
        /// The listening URI.
        uri: String,
        /// The timeout.
        after: Duration,
    },
    /// Accepting a connection failed.
    #[error(
        "Failed to accept a migration connection on {uri}: {}",
        os_text(source)
    )]
    Accept {
        /// The listening URI.
        uri: String,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// A file could not be opened.
    #[error("Could not open '{}': {}", path.display(), os_text(source))]
    Open {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// The peer closed or reset the connection in the middle of the stream.
    #[error("migration peer {peer} went away after {bytes} bytes were {direction}")]
    PeerGone {
        /// The peer's URI.
        peer: String,
        /// Bytes transferred in `direction` before.
        bytes: u64,
        /// `received` or `sent`.
        direction: &'static str,
    },
    /// The peer sent or took nothing for the I/O timeout.
    #[error(
        "migration peer {peer} timed out: nothing {direction} for {} ms, after {bytes} bytes",
        after.as_millis()
    )]
    Timeout {
        /// The peer's URI.
        peer: String,
        /// `received` or `sent`.
        direction: &'static str,
        /// The timeout.
        after: Duration,
        /// Bytes transferred in `direction` before.
        bytes: u64,
    },
}

/// An I/O error's text without Rust's " (os error N)" suffix, as QEMU prints
/// `strerror`.
fn os_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_owned(),
        _ => s,
    }
}

/// Timeouts of the transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportOptions {
    /// Longest wait for a TCP connection to be established.
    pub connect_timeout: Duration,
    /// Longest wait for the source to connect (`None`: wait forever, as
    /// QEMU's `-incoming` does).
    pub accept_timeout: Option<Duration>,
    /// Longest silence of an established socket, reading or writing
    /// (`None`: wait forever).
    pub io_timeout: Option<Duration>,
}

impl Default for TransportOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            accept_timeout: None,
            io_timeout: Some(Duration::from_secs(60)),
        }
    }
}

enum Chan {
    File(File),
    Unix(UnixStream),
    Tcp(TcpStream),
}

/// An open migration channel: a file, or a connected socket.
pub struct Connection {
    chan: Chan,
    peer: String,
    read: u64,
    written: u64,
    io_timeout: Option<Duration>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .field("read", &self.read)
            .field("written", &self.written)
            .finish()
    }
}

impl Connection {
    fn new(chan: Chan, peer: String, opts: &TransportOptions) -> io::Result<Self> {
        match &chan {
            Chan::File(_) => {}
            Chan::Unix(s) => {
                s.set_read_timeout(opts.io_timeout)?;
                s.set_write_timeout(opts.io_timeout)?;
            }
            Chan::Tcp(s) => {
                s.set_read_timeout(opts.io_timeout)?;
                s.set_write_timeout(opts.io_timeout)?;
                s.set_nodelay(true)?;
            }
        }
        Ok(Self {
            chan,
            peer,
            read: 0,
            written: 0,
            io_timeout: opts.io_timeout,
        })
    }

    /// The other end, as a URI (`tcp:127.0.0.1:4444`, `unix:/path`,
    /// `file:/path`).
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Whether this is a socket.
    pub fn is_socket(&self) -> bool {
        !matches!(self.chan, Chan::File(_))
    }

    /// Flushes and, on a socket, shuts down the sending side so the peer
    /// sees the end of the stream; on a file, syncs it to disk.
    pub fn finish(&mut self) -> Result<(), TransportError> {
        let res = match &mut self.chan {
            Chan::File(f) => f.sync_all(),
            Chan::Unix(s) => s.shutdown(Shutdown::Write),
            Chan::Tcp(s) => s.shutdown(Shutdown::Write),
        };
        match res {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Err(self.classify(e, "sent")),
            _ => Ok(()),
        }
    }

    /// Turns a socket failure into the transport error it means.
    fn classify(&self, e: io::Error, direction: &'static str) -> TransportError {
        let bytes = if direction == "sent" {
            self.written
        } else {
            self.read
        };
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => TransportError::Timeout {
                peer: self.peer.clone(),
                direction,
                after: self.io_timeout.unwrap_or_default(),
                bytes,
            },
            _ => TransportError::PeerGone {
                peer: self.peer.clone(),
                bytes,
                direction,
            },
        }
    }

    fn wrap(&self, e: io::Error, direction: &'static str) -> io::Error {
        if !self.is_socket() {
            return e;
        }
        let kind = e.kind();
        match kind {
            io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::UnexpectedEof => io::Error::new(kind, self.classify(e, direction)),
            _ => e,
        }
    }
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let res = match &mut self.chan {
            Chan::File(f) => f.read(buf),
            Chan::Unix(s) => s.read(buf),
            Chan::Tcp(s) => s.read(buf),
        };
        match res {
            Ok(0) if !buf.is_empty() && self.is_socket() => {
                Err(self.wrap(io::Error::from(io::ErrorKind::UnexpectedEof), "received"))
            }
            Ok(n) => {
                self.read += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => Err(self.wrap(e, "received")),
        }
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let res = match &mut self.chan {
            Chan::File(f) => f.write(buf),
            Chan::Unix(s) => s.write(buf),
            Chan::Tcp(s) => s.write(buf),
        };
        match res {
            Ok(n) => {
                self.written += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => Err(self.wrap(e, "sent")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let res = match &mut self.chan {
            Chan::File(f) => f.flush(),
            Chan::Unix(s) => s.flush(),
            Chan::Tcp(s) => s.flush(),
        };
        res.map_err(|e| self.wrap(e, "sent"))
    }
}

/// Opens the outgoing side: creates the file (keeping the bytes before
/// `offset`), or connects the socket.
pub fn connect(uri: &MigrationUri, opts: &TransportOptions) -> Result<Connection, TransportError> {
    let peer = uri.to_string();
    let chan = match uri {
        MigrationUri::File { path, offset } => {
            let open = |p: &Path| -> io::Result<File> {
                let mut f = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(*offset == 0)
                    .open(p)?;
                if *offset > 0 {
                    f.set_len(*offset)?;
                    f.seek(SeekFrom::Start(*offset))?;
                }
                Ok(f)
            };
            Chan::File(open(path).map_err(|source| TransportError::Open {
                path: path.clone(),
                source,
            })?)
        }
        MigrationUri::Unix(path) => {
            let addr = path.display().to_string();
            Chan::Unix(UnixStream::connect(path).map_err(|e| connect_error(addr, e))?)
        }
        MigrationUri::Tcp { host, port } => {
            let addr = format!("{host}:{port}");
            let addrs = (host.as_str(), *port)
                .to_socket_addrs()
                .map_err(|e| connect_error(addr.clone(), e))?;
            let mut last = None;
            let mut stream = None;
            for a in addrs {
                match TcpStream::connect_timeout(&a, opts.connect_timeout) {
                    Ok(s) => {
                        stream = Some(s);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            match (stream, last) {
                (Some(s), _) => Chan::Tcp(s),
                (None, Some(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ) =>
                {
                    return Err(TransportError::ConnectTimeout {
                        addr,
                        after: opts.connect_timeout,
                    })
                }
                (None, Some(e)) => return Err(connect_error(addr, e)),
                (None, None) => {
                    return Err(connect_error(
                        addr,
                        io::Error::new(io::ErrorKind::NotFound, "no address found"),
                    ))
                }
            }
        }
    };
    let addr = peer.clone();
    Connection::new(chan, peer, opts).map_err(|e| connect_error(addr, e))
}

fn connect_error(addr: String, e: io::Error) -> TransportError {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        TransportError::ConnectionRefused { addr }
    } else {
        TransportError::Connect { addr, source: e }
    }
}

enum Listen {
    File {
        path: PathBuf,
        offset: u64,
    },
    Unix {
        listener: UnixListener,
        path: PathBuf,
    },
    Tcp(TcpListener),
}

/// The incoming side, ready for the source: a bound socket, or a file to
/// read.
pub struct Listener {
    listen: Listen,
    uri: MigrationUri,
    opts: TransportOptions,
}

/// Opens the incoming side: binds and listens on a socket (a stale unix
/// socket file at the path is replaced, as QEMU does), or remembers the file.
pub fn listen(uri: &MigrationUri, opts: &TransportOptions) -> Result<Listener, TransportError> {
    let (listen, uri) = match uri {
        MigrationUri::File { path, offset } => (
            Listen::File {
                path: path.clone(),
                offset: *offset,
            },
            uri.clone(),
        ),
        MigrationUri::Unix(path) => {
            let lerr = |source| TransportError::Listen {
                addr: path.display().to_string(),
                source,
            };
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                if meta.file_type().is_socket() {
                    std::fs::remove_file(path).map_err(lerr)?;
                }
            }
            let listener = UnixListener::bind(path).map_err(lerr)?;
            (
                Listen::Unix {
                    listener,
                    path: path.clone(),
                },
                uri.clone(),
            )
        }
        MigrationUri::Tcp { host, port } => {
            let bind_host = if host.is_empty() {
                "0.0.0.0"
            } else {
                host.as_str()
            };
            let addr = format!("{host}:{port}");
            let listener = TcpListener::bind((bind_host, *port))
                .map_err(|source| TransportError::Listen { addr, source })?;
            let actual = listener.local_addr().map(|a| a.port()).unwrap_or(*port);
            (
                Listen::Tcp(listener),
                MigrationUri::Tcp {
                    host: host.clone(),
                    port: actual,
                },
            )
        }
    };
    Ok(Listener {
        listen,
        uri,
        opts: *opts,
    })
}

impl Listener {
    /// The URI a source must use: for `tcp:HOST:0`, the port actually bound.
    pub fn local_uri(&self) -> &MigrationUri {
        &self.uri
    }

    /// Waits for the source (up to the accept timeout) and returns the
    /// connection; for a file, opens it at its offset.
    pub fn accept(&self) -> Result<Connection, TransportError> {
        let uri = self.uri.to_string();
        let accept_err = |source| TransportError::Accept {
            uri: uri.clone(),
            source,
        };
        let (chan, peer) = match &self.listen {
            Listen::File { path, offset } => {
                let open = || -> io::Result<File> {
                    let mut f = File::open(path)?;
                    f.seek(SeekFrom::Start(*offset))?;
                    Ok(f)
                };
                let f = open().map_err(|source| TransportError::Open {
                    path: path.clone(),
                    source,
                })?;
                (Chan::File(f), uri.clone())
            }
            Listen::Unix { listener, path } => {
                let s = self.wait(
                    || listener.accept().map(|(s, _)| s),
                    |nb| listener.set_nonblocking(nb),
                )?;
                s.set_nonblocking(false).map_err(accept_err)?;
                (Chan::Unix(s), format!("unix:{}", path.display()))
            }
            Listen::Tcp(listener) => {
                let (s, from) =
                    self.wait(|| listener.accept(), |nb| listener.set_nonblocking(nb))?;
                s.set_nonblocking(false).map_err(accept_err)?;
                (Chan::Tcp(s), format!("tcp:{from}"))
            }
        };
        Connection::new(chan, peer, &self.opts).map_err(accept_err)
    }

    /// Runs `accept` with the accept timeout: non-blocking polls every few
    /// milliseconds until the deadline.
    fn wait<T>(
        &self,
        mut accept: impl FnMut() -> io::Result<T>,
        set_nonblocking: impl Fn(bool) -> io::Result<()>,
    ) -> Result<T, TransportError> {
        let uri = self.uri.to_string();
        let accept_err = |source| TransportError::Accept {
            uri: uri.clone(),
            source,
        };
        let Some(limit) = self.opts.accept_timeout else {
            set_nonblocking(false).map_err(accept_err)?;
            return accept().map_err(accept_err);
        };
        set_nonblocking(true).map_err(accept_err)?;
        let start = Instant::now();
        let res = loop {
            match accept() {
                Ok(v) => break Ok(v),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if start.elapsed() >= limit {
                        break Err(TransportError::AcceptTimeout {
                            uri: uri.clone(),
                            after: limit,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(accept_err(e)),
            }
        };
        let _ = set_nonblocking(false);
        res
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listen::Unix { path, .. } = &self.listen {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_error_suffix_is_dropped() {
        let e = io::Error::from_raw_os_error(111);
        assert_eq!(os_text(&e), "Connection refused");
        assert_eq!(os_text(&io::Error::other("plain")), "plain");
    }
}
