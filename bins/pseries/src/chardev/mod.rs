//! Opening chardevs: binding or connecting sockets (with QEMU's messages
//! and its `wait=on` start-up wait), stdio, and sinks; then handing out
//! their connections one client at a time, as a QEMU chardev serves one
//! client at a time.

pub mod mux;
pub mod terminal;

use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use crate::console::OutputSlot;
use crate::exit;
use crate::monitor::session::Connection;
use crate::options::frontends::PlannedChardev;
use crate::options::{BackendSpec, CliError, SocketAddr, SocketSpec};

/// An OS error's text without Rust's ` (os error N)` suffix, as QEMU
/// prints `strerror`.
pub fn os_message(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// A listening socket.
#[derive(Debug)]
pub enum Listener {
    /// A unix socket and its path (removed at exit).
    Unix(UnixListener, PathBuf),
    /// A TCP socket.
    Tcp(TcpListener),
}

impl Listener {
    /// Waits for the next client.
    pub fn accept(&self) -> io::Result<Connection> {
        match self {
            Listener::Unix(l, _) => {
                let (s, _) = l.accept()?;
                unix_connection(s)
            }
            Listener::Tcp(l) => {
                let (s, _) = l.accept()?;
                let _ = s.set_nodelay(true);
                tcp_connection(s)
            }
        }
    }
}

fn unix_connection(s: UnixStream) -> io::Result<Connection> {
    Ok(Connection {
        reader: Box::new(s.try_clone()?),
        writer: Box::new(s),
        is_tty: false,
    })
}

fn tcp_connection(s: TcpStream) -> io::Result<Connection> {
    Ok(Connection {
        reader: Box::new(s.try_clone()?),
        writer: Box::new(s),
        is_tty: false,
    })
}

/// The process's stdin and stdout as a connection.
pub fn stdio_connection() -> Connection {
    Connection {
        reader: Box::new(io::stdin()),
        writer: Box::new(io::stdout()),
        is_tty: terminal::stdin_is_tty(),
    }
}

/// An opened chardev: where its clients come from.
pub enum Source {
    /// stdin/stdout: one connection for the program's life (`None` once
    /// handed out).
    Stdio(Option<Connection>),
    /// `null` or `vc`: never a client; output is dropped.
    Sink,
    /// A listening socket, and a client already accepted at start-up
    /// (`wait=on`).
    Server {
        /// The socket.
        listener: Listener,
        /// The client accepted before the machine started.
        first: Option<Connection>,
    },
    /// A connected client socket (`None` once handed out).
    Client(Option<Connection>),
    /// stdin, whose stdout is already attached to its user's output
    /// ([`Source::attach_stdio`]).
    Stdin(Option<Box<dyn Read + Send>>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Source::Stdio(_) => "stdio",
            Source::Sink => "sink",
            Source::Server { .. } => "server",
            Source::Client(_) => "client",
            Source::Stdin(_) => "stdin",
        };
        f.debug_tuple("Source").field(&kind).finish()
    }
}

impl Source {
    /// The next client: blocks on a listening socket; `None` when no
    /// further client can come.
    pub fn next_connection(&mut self) -> Option<Connection> {
        match self {
            Source::Stdio(c) | Source::Client(c) => c.take(),
            Source::Sink => None,
            Source::Stdin(r) => r.take().map(|reader| Connection {
                reader,
                writer: Box::new(io::sink()),
                is_tty: terminal::stdin_is_tty(),
            }),
            Source::Server { listener, first } => {
                if let Some(c) = first.take() {
                    return Some(c);
                }
                loop {
                    match listener.accept() {
                        Ok(c) => return Some(c),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                        Err(_) => return None,
                    }
                }
            }
        }
    }
}

impl Source {
    /// For stdio: attaches stdout to `slot` now (so that output written
    /// before the reader thread runs is not lost) and keeps stdin.
    pub fn attach_stdio(&mut self, slot: &OutputSlot) {
        if let Source::Stdio(c) = self {
            if let Some(conn) = c.take() {
                slot.connect(conn.writer);
                *self = Source::Stdin(Some(conn.reader));
            }
        }
    }
}

/// Serves a chardev's clients in turn for an output-and-input user (the
/// console, a mux): each client's writer goes to `slot` while it is
/// connected, and what it sends goes to `input` (which returns false to
/// stop). stdin at EOF leaves stdout attached: the guest may still print.
pub fn pump(mut source: Source, slot: &OutputSlot, mut input: impl FnMut(&[u8]) -> bool) {
    let stdin = matches!(source, Source::Stdin(_));
    while let Some(conn) = source.next_connection() {
        if !stdin {
            slot.connect(conn.writer);
        }
        let mut reader = conn.reader;
        let mut buf = [0u8; 1024];
        let go_on = loop {
            match reader.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => {
                    if !input(&buf[..n]) {
                        break false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break true,
            }
        };
        if !stdin {
            slot.disconnect();
        }
        if !go_on {
            return;
        }
    }
}

fn bind_unix(path: &Path) -> io::Result<UnixListener> {
    // A socket file left by an earlier run is replaced, as QEMU does; any
    // other kind of file is left alone and the bind fails.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            let _ = std::fs::remove_file(path);
        }
    }
    UnixListener::bind(path)
}

fn tcp_target(host: &str, port: u16) -> String {
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn open_socket(spec: &SocketSpec, location: &str, prog: &str) -> Result<Source, CliError> {
    if !spec.server {
        let conn = match &spec.addr {
            SocketAddr::Unix(p) => UnixStream::connect(p).and_then(unix_connection),
            SocketAddr::Tcp { host, port } => {
                TcpStream::connect(tcp_target(host, *port)).and_then(tcp_connection)
            }
        };
        let target = match &spec.addr {
            SocketAddr::Unix(p) => p.display().to_string(),
            SocketAddr::Tcp { host, port } => format!("{host}:{port}"),
        };
        return conn.map(|c| Source::Client(Some(c))).map_err(|e| {
            CliError::at(
                location,
                format!("Failed to connect to '{target}': {}", os_message(&e)),
            )
        });
    }
    let listener = match &spec.addr {
        SocketAddr::Unix(p) => {
            let l = bind_unix(p).map_err(|e| {
                CliError::at(
                    location,
                    format!(
                        "Failed to bind socket to {}: {}",
                        p.display(),
                        os_message(&e)
                    ),
                )
            })?;
            exit::register_socket(p.clone());
            Listener::Unix(l, p.clone())
        }
        SocketAddr::Tcp { host, port } => {
            let l = TcpListener::bind(tcp_target(host, *port)).map_err(|e| {
                CliError::at(
                    location,
                    format!("Failed to bind socket: {}", os_message(&e)),
                )
            })?;
            Listener::Tcp(l)
        }
    };
    let mut first = None;
    if spec.wait {
        eprintln!(
            "{prog}: {location}: info: pseries waiting for connection on: disconnected:{},server=on",
            spec.addr
        );
        loop {
            match listener.accept() {
                Ok(c) => {
                    first = Some(c);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(CliError::at(
                        location,
                        format!("Failed to accept a connection: {}", os_message(&e)),
                    ))
                }
            }
        }
    }
    Ok(Source::Server { listener, first })
}

/// Opens one chardev: binds or connects its socket (waiting for the first
/// client when `wait=on`), or prepares stdio.
pub fn open(c: &PlannedChardev, prog: &str) -> Result<Source, CliError> {
    match &c.backend {
        BackendSpec::Stdio { .. } => Ok(Source::Stdio(Some(stdio_connection()))),
        BackendSpec::Null | BackendSpec::Vc => Ok(Source::Sink),
        BackendSpec::Socket(s) => open_socket(s, &c.location, prog),
    }
}
