//! Migration URIs in QEMU's syntax: `file:PATH[,offset=N]`, `unix:PATH`,
//! `tcp:HOST:PORT`, and `defer` for incoming migration.
//!
//! `exec:`, `fd:`, `rdma:` and `vsock:` are QEMU protocols this project does
//! not offer; they are refused with a sentence saying why, not with "unknown
//! protocol".

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A URI that does not name a usable migration endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Not a protocol QEMU knows either (QEMU's words).
    #[error("unknown migration protocol: {0}")]
    UnknownProtocol(String),
    /// A QEMU protocol this project does not offer.
    #[error("migration protocol '{protocol}' is not supported: {reason}")]
    Unsupported {
        /// `exec`, `fd`, `rdma` or `vsock`.
        protocol: String,
        /// Why, and what to use instead.
        reason: &'static str,
    },
    /// The address part is not valid (QEMU's words where it has them).
    #[error("{0}")]
    Invalid(String),
}

/// Where a stream goes to or comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MigrationUri {
    /// A file; outgoing creates or truncates it, incoming reads it.
    File {
        /// The file.
        path: PathBuf,
        /// Byte offset of the stream in the file (QEMU's `,offset=`).
        offset: u64,
    },
    /// A unix stream socket: outgoing connects, incoming listens.
    Unix(PathBuf),
    /// A TCP connection: outgoing connects, incoming listens (an empty host
    /// listens on every address).
    Tcp {
        /// Host name or address (IPv6 without brackets).
        host: String,
        /// Port (0 on incoming picks a free one).
        port: u16,
    },
}

/// Where an incoming migration comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IncomingUri {
    /// Listen or read here.
    Uri(MigrationUri),
    /// `-incoming defer`: the URI is given later (QMP `migrate-incoming`).
    Defer,
}

impl MigrationUri {
    /// Parses an outgoing URI (QMP `migrate`).
    pub fn parse_outgoing(uri: &str) -> Result<Self, UriError> {
        Self::parse(uri, false)
    }

    /// Parses an incoming URI (`-incoming`), which is not `defer`.
    pub fn parse_incoming(uri: &str) -> Result<Self, UriError> {
        Self::parse(uri, true)
    }

    fn parse(uri: &str, incoming: bool) -> Result<Self, UriError> {
        let (proto, rest) = uri
            .split_once(':')
            .ok_or_else(|| UriError::UnknownProtocol(uri.to_owned()))?;
        match proto {
            "file" => parse_file(rest),
            "unix" => {
                if rest.is_empty() {
                    return Err(UriError::Invalid(format!(
                        "unix socket path is missing in '{uri}'"
                    )));
                }
                Ok(Self::Unix(PathBuf::from(rest)))
            }
            "tcp" => parse_tcp(rest, incoming),
            "exec" => Err(UriError::Unsupported {
                protocol: proto.into(),
                reason:
                    "pseries-rs does not run shell commands to move a stream; use file:, unix: \
                         or tcp: (e.g. save to file:PATH and copy the file)",
            }),
            "fd" => Err(UriError::Unsupported {
                protocol: proto.into(),
                reason: "there is no monitor to pass file descriptors through; use unix: or file:",
            }),
            "rdma" => Err(UriError::Unsupported {
                protocol: proto.into(),
                reason: "RDMA transport is not implemented; use tcp:",
            }),
            "vsock" => Err(UriError::Unsupported {
                protocol: proto.into(),
                reason: "vsock transport is not implemented; use tcp: or unix:",
            }),
            _ => Err(UriError::UnknownProtocol(uri.to_owned())),
        }
    }
}

impl IncomingUri {
    /// Parses an incoming URI, `defer` included.
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        if uri == "defer" {
            return Ok(Self::Defer);
        }
        MigrationUri::parse_incoming(uri).map(Self::Uri)
    }
}

impl FromStr for MigrationUri {
    type Err = UriError;

    /// Parses an outgoing URI.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_outgoing(s)
    }
}

fn parse_file(rest: &str) -> Result<MigrationUri, UriError> {
    // QEMU looks for the last ",offset=" and takes everything before it as
    // the path.
    let (path, offset) = match rest.rsplit_once(",offset=") {
        Some((path, off)) => {
            let parsed = match off.strip_prefix("0x").or_else(|| off.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => off.parse(),
            };
            let offset =
                parsed.map_err(|_| UriError::Invalid(format!("file URI has bad offset {off}")))?;
            (path, offset)
        }
        None => (rest, 0),
    };
    if path.is_empty() {
        return Err(UriError::Invalid("file URI has no path".into()));
    }
    Ok(MigrationUri::File {
        path: PathBuf::from(path),
        offset,
    })
}

fn parse_tcp(rest: &str, incoming: bool) -> Result<MigrationUri, UriError> {
    let bad = || UriError::Invalid(format!("error parsing address '{rest}'"));
    if let Some((_, opts)) = rest.split_once(',') {
        return Err(UriError::Invalid(format!(
            "tcp address options are not supported (',{opts}')"
        )));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| UriError::Invalid(format!("error parsing IPv6 address '{rest}'")))?;
        let port = after.strip_prefix(':').ok_or_else(bad)?;
        (host, port)
    } else {
        rest.rsplit_once(':').ok_or_else(bad)?
    };
    if host.contains(':') && !rest.starts_with('[') {
        return Err(UriError::Invalid(format!(
            "error parsing IPv6 address '{rest}'"
        )));
    }
    if host.is_empty() && !incoming {
        return Err(UriError::Invalid(format!(
            "error parsing address '{rest}': host is missing"
        )));
    }
    let port: u16 = port.parse().map_err(|_| {
        UriError::Invalid(format!(
            "error parsing address '{rest}': port must be a number from 0 to 65535"
        ))
    })?;
    if port == 0 && !incoming {
        return Err(UriError::Invalid(format!(
            "error parsing address '{rest}': port 0"
        )));
    }
    Ok(MigrationUri::Tcp {
        host: host.to_owned(),
        port,
    })
}

impl fmt::Display for MigrationUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { path, offset: 0 } => write!(f, "file:{}", path.display()),
            Self::File { path, offset } => write!(f, "file:{},offset={offset}", path.display()),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
            Self::Tcp { host, port } if host.contains(':') => write!(f, "tcp:[{host}]:{port}"),
            Self::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
        }
    }
}

impl fmt::Display for IncomingUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uri(u) => u.fmt(f),
            Self::Defer => f.write_str("defer"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qemu_syntax_and_prints_it_back() {
        for (s, want) in [
            (
                "file:/tmp/m.bin",
                MigrationUri::File {
                    path: "/tmp/m.bin".into(),
                    offset: 0,
                },
            ),
            (
                "file:/tmp/a,b,offset=0x1000",
                MigrationUri::File {
                    path: "/tmp/a,b".into(),
                    offset: 4096,
                },
            ),
            (
                "unix:/run/mig.sock",
                MigrationUri::Unix("/run/mig.sock".into()),
            ),
            (
                "tcp:127.0.0.1:4444",
                MigrationUri::Tcp {
                    host: "127.0.0.1".into(),
                    port: 4444,
                },
            ),
            (
                "tcp:[::1]:4444",
                MigrationUri::Tcp {
                    host: "::1".into(),
                    port: 4444,
                },
            ),
            (
                "tcp:localhost:1",
                MigrationUri::Tcp {
                    host: "localhost".into(),
                    port: 1,
                },
            ),
        ] {
            let u = MigrationUri::parse_outgoing(s).unwrap();
            assert_eq!(u, want, "{s}");
            if !s.contains("0x") {
                assert_eq!(u.to_string(), s);
            }
        }
        assert_eq!(
            IncomingUri::parse("tcp::4444").unwrap(),
            IncomingUri::Uri(MigrationUri::Tcp {
                host: String::new(),
                port: 4444
            })
        );
        assert_eq!(
            IncomingUri::parse("tcp:127.0.0.1:0").unwrap(),
            IncomingUri::Uri(MigrationUri::Tcp {
                host: "127.0.0.1".into(),
                port: 0
            })
        );
        assert_eq!(IncomingUri::parse("defer").unwrap(), IncomingUri::Defer);
        assert_eq!(IncomingUri::Defer.to_string(), "defer");
    }

    #[test]
    fn refusals_say_why() {
        let e = |s: &str| MigrationUri::parse_outgoing(s).unwrap_err().to_string();
        assert_eq!(e("ftp://x"), "unknown migration protocol: ftp://x");
        assert_eq!(e("defer"), "unknown migration protocol: defer");
        assert!(e("exec:cat > /tmp/x").starts_with("migration protocol 'exec' is not supported: "));
        assert!(e("fd:3").contains("'fd' is not supported"));
        assert_eq!(e("tcp:127.0.0.1"), "error parsing address '127.0.0.1'");
        assert!(e("tcp::4444").contains("host is missing"));
        assert!(e("tcp:h:99999").contains("port must be a number"));
        assert!(e("tcp:h:0").contains("port 0"));
        assert!(e("tcp:::1:5").contains("IPv6"));
        assert!(e("tcp:h:5,ipv4=on").contains("options are not supported"));
        assert_eq!(e("file:/x,offset=zz"), "file URI has bad offset zz");
        assert_eq!(e("file:"), "file URI has no path");
        assert!(e("unix:").contains("path is missing"));
    }
}
