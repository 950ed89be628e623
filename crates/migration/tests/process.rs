//! Migration between two processes: the `migstream` binary relays a stream
//! over a real socket, as the sending or the receiving process.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use migration::transport;
use migration::{BulkDecl, Loader, MigrationUri, StreamWriter, TransportOptions};

const RAM: usize = 2 << 20;

fn opts() -> TransportOptions {
    TransportOptions {
        connect_timeout: Duration::from_secs(20),
        accept_timeout: Some(Duration::from_secs(60)),
        io_timeout: Some(Duration::from_secs(60)),
    }
}

fn ram_image() -> Vec<u8> {
    (0..RAM)
        .map(|i| {
            if (i / 4096) % 4 == 0 {
                0
            } else {
                (i * 7 % 253) as u8
            }
        })
        .collect()
}

fn stream_of(src: &Setup, ram: &[u8]) -> Vec<u8> {
    let mut w = StreamWriter::new(Vec::new(), &src.header()).unwrap();
    for c in src.components() {
        w.save(c.as_ref()).unwrap();
    }
    w.begin_bulk(&[BulkDecl {
        name: "ram".into(),
        instance_id: 0,
        version_id: 1,
        len: ram.len() as u64,
    }])
    .unwrap();
    w.bulk_pages(ram, 4096).unwrap();
    w.finish().unwrap()
}

fn load_checked(
    dst: &Setup,
    input: impl std::io::Read,
) -> Result<Vec<u8>, migration::MigrationError> {
    let mut ram = vec![0u8; RAM];
    let mut loader = Loader::new();
    loader
        .components(dst.components())
        .bulk("ram", 0, 1, 1, &mut ram);
    loader.load(input)?;
    drop(loader);
    Ok(ram)
}

fn migstream(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_migstream"))
        .args(["relay", "--timeout", "60"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads the child's "listening on URI" line.
fn listening_uri(child: &mut Child) -> MigrationUri {
    let mut line = String::new();
    BufReader::new(child.stderr.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let uri = line
        .trim()
        .strip_prefix("migstream: listening on ")
        .unwrap_or_else(|| panic!("unexpected child output {line:?}"));
    MigrationUri::parse_outgoing(uri).unwrap()
}

fn finish(child: Child) -> (bool, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn another_process_receives_over_tcp() {
    let dir = TempDir::new("recv-tcp");
    let out = dir.join("out.bin");
    let mut child = migstream(&["tcp:127.0.0.1:0", &format!("file:{}", out.display())]);
    let uri = listening_uri(&mut child);
    let src = Setup::new("dual", 4, 128);
    src.scramble(8);
    let ram = ram_image();
    let stream = stream_of(&src, &ram);
    let mut conn = transport::connect(&uri, &opts()).unwrap();
    std::io::Write::write_all(&mut conn, &stream).unwrap();
    conn.finish().unwrap();
    let (ok, err) = finish(child);
    assert!(ok, "child failed: {err}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        stream,
        "the relay re-emits the same bytes"
    );
    let dst = Setup::new("dual", 4, 128);
    let got = load_checked(&dst, std::fs::File::open(&out).unwrap()).unwrap();
    assert!(got == ram);
    assert_eq!(dst.snapshot(), src.snapshot());
}

#[test]
fn another_process_sends_over_tcp_and_unix() {
    let dir = TempDir::new("send");
    let src = Setup::new("xics", 4, 128);
    src.scramble(12);
    let ram = ram_image();
    let input = write_file(&dir, "in.bin", &stream_of(&src, &ram));
    for incoming in [
        MigrationUri::parse_incoming("tcp:127.0.0.1:0").unwrap(),
        MigrationUri::Unix(dir.join("dst.sock")),
    ] {
        let listener = transport::listen(&incoming, &opts()).unwrap();
        let target = listener.local_uri().to_string();
        let child = migstream(&[&format!("file:{}", input.display()), &target]);
        let conn = listener.accept().unwrap();
        let dst = Setup::new("xics", 4, 128);
        let got = load_checked(&dst, conn).unwrap();
        let (ok, err) = finish(child);
        assert!(ok, "child failed: {err}");
        assert!(got == ram, "{target}");
        assert_eq!(dst.snapshot(), src.snapshot(), "{target}");
    }
}

#[test]
fn a_relay_never_completes_a_broken_stream() {
    let dir = TempDir::new("broken");
    let src = Setup::new("xics", 2, 16);
    src.scramble(3);
    let mut stream = stream_of(&src, &ram_image());
    let n = stream.len();
    stream[n / 2] ^= 0x20;
    let input = write_file(&dir, "in.bin", &stream);
    let out = dir.join("out.bin");
    let child = migstream(&[
        &input.display().to_string(),
        &format!("file:{}", out.display()),
    ]);
    let (ok, err) = finish(child);
    assert!(!ok);
    assert!(err.starts_with("migstream: "), "{err}");
    // Whatever the relay wrote has no END: the destination refuses it.
    let dst = Setup::new("xics", 2, 16);
    let before = dst.snapshot();
    if let Ok(f) = std::fs::File::open(&out) {
        assert!(load_checked(&dst, f).is_err());
    }
    assert_eq!(dst.snapshot(), before);
}
