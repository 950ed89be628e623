//! `migstream`: inspect a pseries-rs migration stream, or relay one from an
//! incoming URI to an outgoing one while checking it.
//!
//! ```text
//! migstream inspect [--json] [--full] [--timeout SECS] SOURCE
//! migstream relay [--timeout SECS] SOURCE DESTINATION
//! ```
//!
//! SOURCE is an incoming URI (`file:PATH`, `unix:PATH`, `tcp:HOST:PORT`) or
//! a plain path; on a socket it listens and prints `migstream: listening on
//! URI` on stderr. DESTINATION is an outgoing URI. `relay` re-emits every
//! record as it arrives (bulk data is not held in memory) and writes the END
//! record only once the source's END and checksums were verified, so a
//! broken source never yields a complete-looking copy.

use std::io::{BufReader, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use migration::stream::Record;
use migration::transport::{self, Connection};
use migration::{
    inspect, Limits, MigrationError, MigrationUri, StreamError, StreamReader, StreamWriter,
    TransportOptions,
};

const USAGE: &str = "usage: migstream inspect [--json] [--full] [--timeout SECS] SOURCE\n       \
                     migstream relay [--timeout SECS] SOURCE DESTINATION";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("migstream: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Opts {
    json: bool,
    full: bool,
    transport: TransportOptions,
    positional: Vec<String>,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        json: false,
        full: false,
        transport: TransportOptions::default(),
        positional: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => o.json = true,
            "--full" => o.full = true,
            "--timeout" => {
                let secs: f64 = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or("--timeout needs a positive number of seconds")?;
                let d = Duration::from_secs_f64(secs);
                o.transport.accept_timeout = Some(d);
                o.transport.io_timeout = Some(d);
                o.transport.connect_timeout = d;
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}\n{USAGE}")),
            s => o.positional.push(s.to_owned()),
        }
    }
    Ok(o)
}

/// Opens SOURCE: a URI, or a plain path read as a file.
fn open_source(src: &str, opts: &TransportOptions) -> Result<Connection, MigrationError> {
    let uri = if src.contains(':') {
        MigrationUri::parse_incoming(src)?
    } else {
        MigrationUri::File {
            path: src.into(),
            offset: 0,
        }
    };
    let listener = transport::listen(&uri, opts)?;
    if !matches!(uri, MigrationUri::File { .. }) {
        eprintln!("migstream: listening on {}", listener.local_uri());
    }
    Ok(listener.accept()?)
}

fn run(args: &[String]) -> Result<(), String> {
    let (cmd, rest) = args.split_first().ok_or(USAGE)?;
    let o = parse(rest)?;
    match (cmd.as_str(), o.positional.as_slice()) {
        ("inspect", [src]) => {
            let conn = open_source(src, &o.transport).map_err(|e| e.to_string())?;
            let shown = inspect::inspect(conn, &Limits::default());
            let out = if o.json {
                serde_json::to_string_pretty(&shown.to_json()).map_err(|e| e.to_string())? + "\n"
            } else {
                shown.to_text(o.full)
            };
            std::io::stdout()
                .write_all(out.as_bytes())
                .map_err(|e| e.to_string())?;
            match shown.error {
                Some(e) => Err(e),
                None => Ok(()),
            }
        }
        ("relay", [src, dst]) => relay(src, dst, &o.transport).map_err(|e| e.to_string()),
        _ => Err(USAGE.to_owned()),
    }
}

fn relay(src: &str, dst: &str, opts: &TransportOptions) -> Result<(), MigrationError> {
    let dst_uri = MigrationUri::parse_outgoing(dst)?;
    let conn = open_source(src, opts)?;
    let mut reader = StreamReader::new(BufReader::with_capacity(1 << 20, conn), Limits::default())?;
    let out = transport::connect(&dst_uri, opts)?;
    let mut writer = StreamWriter::new(out, reader.header())?;
    loop {
        match reader.next_record()? {
            Record::Section(s) => {
                writer.write_section(&s.name, s.instance_id, s.version_id, &s.state)?
            }
            Record::BulkIndex(decls) => writer.begin_bulk(&decls)?,
            Record::BulkZero { len, .. } => writer.bulk_zero(len)?,
            Record::BulkData { len, .. } => {
                let len = usize::try_from(len)
                    .map_err(|_| StreamError::Misuse("chunk too large for this host".into()))?;
                let res = writer.bulk_data_with(len, |w| {
                    let copied = std::io::copy(&mut reader.data().take(len as u64), w)?;
                    if copied != len as u64 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    Ok(())
                });
                if let Some(e) = reader.take_source_error() {
                    return Err(e.into());
                }
                res?;
            }
            Record::End(_) => break,
        }
    }
    let mut out = writer.finish()?;
    out.flush().map_err(|e| StreamError::Io {
        offset: out.bytes_written(),
        source: e,
    })?;
    out.finish()?;
    Ok(())
}
