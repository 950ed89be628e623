//! Character-device specifications: `-chardev BACKEND,id=ID,...` and the
//! short forms `-serial`, `-monitor` and `-qmp` accept (`stdio`, `null`,
//! `unix:PATH,server=on,wait=off`, `tcp:HOST:PORT,...`, `mon:SPEC`,
//! `chardev:ID`).
//!
//! Backends offered: `socket` (unix path or TCP host/port, server or
//! client), `stdio`, `null`, and `vc` (QEMU's virtual console, which has no
//! display here, so what it receives is dropped, as on QEMU with
//! `-display none`). Other QEMU backends (`file`, `pipe`, `pty`, ...) are
//! refused with a sentence naming what is offered.

use std::path::PathBuf;

use super::keyval::{KeyVal, KeyValError};

/// Where a socket chardev listens or connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketAddr {
    /// A unix stream socket.
    Unix(PathBuf),
    /// A TCP address.
    Tcp {
        /// Host name or address (empty: every address when listening).
        host: String,
        /// Port.
        port: u16,
    },
}

impl std::fmt::Display for SocketAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SocketAddr::Unix(p) => write!(f, "unix:{}", p.display()),
            SocketAddr::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
        }
    }
}

/// A socket backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSpec {
    /// The address.
    pub addr: SocketAddr,
    /// `server=on`: listen (else connect).
    pub server: bool,
    /// `wait=on` (the default for a server): block at start-up until a
    /// client connects.
    pub wait: bool,
}

/// A chardev backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendSpec {
    /// The process's stdin/stdout.
    Stdio {
        /// `signal=on` (default): Ctrl-C in raw mode still interrupts the
        /// program.
        signal: bool,
    },
    /// Discards output, never has input.
    Null,
    /// QEMU's graphical console: no display here, so a sink.
    Vc,
    /// A socket.
    Socket(SocketSpec),
}

impl BackendSpec {
    /// QEMU's driver name.
    pub fn driver(&self) -> &'static str {
        match self {
            BackendSpec::Stdio { .. } => "stdio",
            BackendSpec::Null => "null",
            BackendSpec::Vc => "vc",
            BackendSpec::Socket(_) => "socket",
        }
    }
}

/// A `-chardev` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChardevSpec {
    /// `id=`.
    pub id: String,
    /// The backend.
    pub backend: BackendSpec,
    /// `mux=on`: several frontends share it (serial + monitor), switched
    /// with Ctrl-A c.
    pub mux: bool,
    /// The option as typed, for error messages.
    pub location: String,
}

/// What a `-serial`, `-monitor` or `-qmp` argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChardevRef {
    /// A backend written inline (`stdio`, `unix:...`).
    Inline(BackendSpec),
    /// `mon:SPEC`: the backend multiplexed between the serial port and a
    /// readline monitor.
    MuxMonitor(BackendSpec),
    /// `chardev:ID`: a `-chardev` by id.
    Named(String),
}

/// Why a chardev string was refused; the caller adds the location and, for
/// `-serial`/`-monitor`/`-qmp`, QEMU's second line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChardevError {
    /// `-chardev` without `id=`.
    #[error("chardev: no id specified")]
    NoId,
    /// An unknown short form.
    #[error("'{0}' is not a valid char driver")]
    NotADriver(String),
    /// An unknown `-chardev` backend name.
    #[error("'{0}' is not a valid char driver name")]
    NotADriverName(String),
    /// A QEMU backend this program does not offer.
    #[error(
        "chardev backend '{0}' is not supported by pseries-rs (use socket, stdio, null or vc)"
    )]
    Unsupported(String),
    /// A socket without `path=` or `host=`/`port=`.
    #[error("chardev: socket: no host given")]
    NoAddress,
    /// A bad TCP port.
    #[error("Parameter 'port' expects a port number, not '{0}'")]
    BadPort(String),
    /// A key/value error.
    #[error(transparent)]
    KeyVal(#[from] KeyValError),
}

const QEMU_ONLY_BACKENDS: &[&str] = &[
    "file",
    "pipe",
    "pty",
    "serial",
    "tty",
    "parallel",
    "parport",
    "udp",
    "ringbuf",
    "memory",
    "msmouse",
    "wctablet",
    "braille",
    "testdev",
    "spicevmc",
    "spiceport",
    "qemu-vdagent",
    "dbus",
];

/// Parses a `-chardev` argument.
pub fn parse_chardev(text: &str, location: &str) -> Result<ChardevSpec, ChardevError> {
    let kv = KeyVal::parse(text, Some("backend"));
    let id = kv.get("id").filter(|s| !s.is_empty());
    let backend = kv.get("backend").unwrap_or("");
    let Some(id) = id else {
        return Err(ChardevError::NoId);
    };
    let mux = kv.bool("mux")?.unwrap_or(false);
    let backend = match backend {
        "socket" => {
            kv.check_keys(&[
                "backend", "id", "mux", "path", "host", "port", "server", "wait", "telnet",
                "nodelay", "delay", "abstract", "tight",
            ])?;
            let addr = match (kv.get("path"), kv.get("host"), kv.get("port")) {
                (Some(p), _, _) if !p.is_empty() => SocketAddr::Unix(PathBuf::from(p)),
                (_, host, Some(port)) => SocketAddr::Tcp {
                    host: host.unwrap_or("").to_string(),
                    port: parse_port(port)?,
                },
                _ => return Err(ChardevError::NoAddress),
            };
            BackendSpec::Socket(socket_flags(&kv, addr)?)
        }
        "stdio" => {
            kv.check_keys(&["backend", "id", "mux", "signal", "logfile", "logappend"])?;
            BackendSpec::Stdio {
                signal: kv.bool("signal")?.unwrap_or(true),
            }
        }
        "null" => {
            kv.check_keys(&["backend", "id", "mux"])?;
            BackendSpec::Null
        }
        "vc" => BackendSpec::Vc,
        other if QEMU_ONLY_BACKENDS.contains(&other) => {
            return Err(ChardevError::Unsupported(other.to_string()))
        }
        other => return Err(ChardevError::NotADriverName(other.to_string())),
    };
    Ok(ChardevSpec {
        id: id.to_string(),
        backend,
        mux,
        location: location.to_string(),
    })
}

fn parse_port(port: &str) -> Result<u16, ChardevError> {
    port.parse()
        .map_err(|_| ChardevError::BadPort(port.to_string()))
}

fn socket_flags(kv: &KeyVal, addr: SocketAddr) -> Result<SocketSpec, ChardevError> {
    let server = kv.bool("server")?.unwrap_or(false);
    // QEMU: a server waits for its first client unless told otherwise.
    let wait = kv.bool("wait")?.unwrap_or(server);
    if kv.bool("telnet")? == Some(true) {
        return Err(ChardevError::Unsupported("socket,telnet=on".into()));
    }
    Ok(SocketSpec {
        addr,
        server,
        wait: server && wait,
    })
}

/// Parses the short form `-serial`, `-monitor` and `-qmp` take.
/// `none` is handled by the caller (it means "no device").
pub fn parse_compat(text: &str) -> Result<ChardevRef, ChardevError> {
    if let Some(id) = text.strip_prefix("chardev:") {
        return Ok(ChardevRef::Named(id.to_string()));
    }
    if let Some(rest) = text.strip_prefix("mon:") {
        return parse_backend_compat(rest).map(ChardevRef::MuxMonitor);
    }
    parse_backend_compat(text).map(ChardevRef::Inline)
}

fn parse_backend_compat(text: &str) -> Result<BackendSpec, ChardevError> {
    let not_driver = || ChardevError::NotADriver(text.to_string());
    match text {
        "stdio" => return Ok(BackendSpec::Stdio { signal: true }),
        "null" => return Ok(BackendSpec::Null),
        "vc" => return Ok(BackendSpec::Vc),
        _ => {}
    }
    if text.starts_with("vc:") {
        return Ok(BackendSpec::Vc);
    }
    if let Some(rest) = text.strip_prefix("unix:") {
        let (path, opts) = rest.split_once(',').unwrap_or((rest, ""));
        if path.is_empty() {
            return Err(not_driver());
        }
        let kv = KeyVal::parse(opts, None);
        kv.check_keys(&["server", "wait", "nodelay", "delay"])?;
        let addr = SocketAddr::Unix(PathBuf::from(path));
        return Ok(BackendSpec::Socket(socket_flags(&kv, addr)?));
    }
    if let Some(rest) = text.strip_prefix("tcp:") {
        let (hostport, opts) = rest.split_once(',').unwrap_or((rest, ""));
        let (host, port) = hostport.rsplit_once(':').ok_or_else(not_driver)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let kv = KeyVal::parse(opts, None);
        kv.check_keys(&[
            "server", "wait", "nodelay", "delay", "telnet", "ipv4", "ipv6",
        ])?;
        let addr = SocketAddr::Tcp {
            host: host.to_string(),
            port: parse_port(port)?,
        };
        return Ok(BackendSpec::Socket(socket_flags(&kv, addr)?));
    }
    let driver = text.split([':', ',']).next().unwrap_or("");
    if QEMU_ONLY_BACKENDS.contains(&driver) || driver == "telnet" || driver == "udp" {
        return Err(ChardevError::Unsupported(driver.to_string()));
    }
    Err(not_driver())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chardev_socket_server() {
        let c = parse_chardev(
            "socket,id=mon,path=/tmp/m.sock,server=on,wait=off",
            "-chardev x",
        )
        .unwrap();
        assert_eq!(c.id, "mon");
        assert_eq!(
            c.backend,
            BackendSpec::Socket(SocketSpec {
                addr: SocketAddr::Unix("/tmp/m.sock".into()),
                server: true,
                wait: false,
            })
        );
        let c = parse_chardev("socket,id=t,host=127.0.0.1,port=4444,server", "").unwrap();
        assert_eq!(
            c.backend,
            BackendSpec::Socket(SocketSpec {
                addr: SocketAddr::Tcp {
                    host: "127.0.0.1".into(),
                    port: 4444
                },
                server: true,
                wait: true,
            })
        );
    }

    #[test]
    fn chardev_errors() {
        let e = |s: &str| parse_chardev(s, "").unwrap_err().to_string();
        assert_eq!(e("socket"), "chardev: no id specified");
        assert_eq!(e("foo"), "chardev: no id specified");
        assert_eq!(e("bogus,id=a"), "'bogus' is not a valid char driver name");
        assert_eq!(e("socket,id=a"), "chardev: socket: no host given");
        assert_eq!(
            e("socket,id=a,path=/x,server=on,foo=bar"),
            "Invalid parameter 'foo'"
        );
        assert!(e("file,id=a,path=/x").contains("not supported"));
    }

    #[test]
    fn short_forms() {
        assert_eq!(
            parse_compat("stdio").unwrap(),
            ChardevRef::Inline(BackendSpec::Stdio { signal: true })
        );
        assert_eq!(
            parse_compat("chardev:mon").unwrap(),
            ChardevRef::Named("mon".into())
        );
        assert_eq!(
            parse_compat("mon:stdio").unwrap(),
            ChardevRef::MuxMonitor(BackendSpec::Stdio { signal: true })
        );
        assert_eq!(
            parse_compat("unix:/tmp/q.sock,server=on,wait=off").unwrap(),
            ChardevRef::Inline(BackendSpec::Socket(SocketSpec {
                addr: SocketAddr::Unix("/tmp/q.sock".into()),
                server: true,
                wait: false
            }))
        );
        assert_eq!(
            parse_compat("unix:/tmp/q.sock").unwrap(),
            ChardevRef::Inline(BackendSpec::Socket(SocketSpec {
                addr: SocketAddr::Unix("/tmp/q.sock".into()),
                server: false,
                wait: false
            }))
        );
        assert_eq!(
            parse_compat("tcp::4444,server,nowait").unwrap(),
            ChardevRef::Inline(BackendSpec::Socket(SocketSpec {
                addr: SocketAddr::Tcp {
                    host: String::new(),
                    port: 4444
                },
                server: true,
                wait: false
            }))
        );
        assert_eq!(
            parse_compat("foo").unwrap_err().to_string(),
            "'foo' is not a valid char driver"
        );
        assert_eq!(
            parse_compat("unix").unwrap_err().to_string(),
            "'unix' is not a valid char driver"
        );
    }
}
