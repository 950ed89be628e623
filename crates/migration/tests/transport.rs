//! Transports over real sockets between threads: unix and loopback TCP, and
//! the errors for a refused connection, a peer gone mid-stream, timeouts.

mod common;

use std::io::Write;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;
use migration::transport::{self, Connection};
use migration::{
    BulkDecl, Loader, MigrationError, MigrationUri, StreamWriter, TransportError, TransportOptions,
};

const RAM: usize = 4 << 20;

fn ram_image() -> Vec<u8> {
    let mut ram = vec![0u8; RAM];
    for (i, chunk) in ram.chunks_mut(4096).enumerate() {
        if i % 3 != 0 {
            chunk.fill((i % 251) as u8 + 1);
        }
    }
    ram
}

/// Writes `src`'s machine and `ram` to `out` and closes it.
fn send(src: &Setup, ram: &[u8], out: Connection) -> Result<u64, MigrationError> {
    let mut w = StreamWriter::new(out, &src.header())?;
    for c in src.components() {
        w.save(c.as_ref())?;
    }
    w.begin_bulk(&[BulkDecl {
        name: "ram".into(),
        instance_id: 0,
        version_id: 1,
        len: ram.len() as u64,
    }])?;
    w.bulk_pages(ram, 4096)?;
    let mut conn = w.finish()?;
    conn.finish()?;
    Ok(conn.bytes_written())
}

fn receive(
    dst: &Setup,
    conn: Connection,
) -> Result<(migration::LoadReport, Vec<u8>), MigrationError> {
    let mut ram = vec![0u8; RAM];
    let mut loader = Loader::new();
    loader
        .components(dst.components())
        .bulk("ram", 0, 1, 1, &mut ram);
    let report = loader.load(conn)?;
    drop(loader);
    Ok((report, ram))
}

fn opts() -> TransportOptions {
    TransportOptions {
        connect_timeout: Duration::from_secs(10),
        accept_timeout: Some(Duration::from_secs(20)),
        io_timeout: Some(Duration::from_secs(20)),
    }
}

fn migrate_between_threads(uri: MigrationUri) {
    let src = Setup::new("dual", 8, 256);
    src.scramble(21);
    let listener = transport::listen(&uri, &opts()).unwrap();
    let target = listener.local_uri().clone();
    let ram = ram_image();
    let ram2 = ram.clone();
    let sender = thread::spawn(move || {
        let src = Setup::new("dual", 8, 256);
        src.scramble(21);
        let conn = transport::connect(&target, &opts()).unwrap();
        send(&src, &ram2, conn).unwrap()
    });
    let conn = listener.accept().unwrap();
    let dst = Setup::new("dual", 8, 256);
    let (report, got) = receive(&dst, conn).unwrap();
    let sent = sender.join().unwrap();
    assert_eq!(report.stream_len, sent);
    assert!(got == ram, "RAM differs");
    assert_eq!(dst.snapshot(), src.snapshot());
}

#[test]
fn unix_socket_between_threads() {
    let dir = TempDir::new("unix-threads");
    migrate_between_threads(MigrationUri::Unix(dir.join("mig.sock")));
}

#[test]
fn tcp_loopback_between_threads() {
    migrate_between_threads(MigrationUri::parse_incoming("tcp:127.0.0.1:0").unwrap());
}

#[test]
fn file_with_offset_keeps_the_bytes_before_it() {
    let dir = TempDir::new("file");
    let path = dir.join("state.bin");
    std::fs::write(&path, b"HEADER-OF-ANOTHER-TOOL").unwrap();
    let uri =
        MigrationUri::parse_outgoing(&format!("file:{},offset=0x100", path.display())).unwrap();
    let src = Setup::new("xics", 2, 16);
    src.scramble(2);
    let ram = ram_image();
    send(&src, &ram, transport::connect(&uri, &opts()).unwrap()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..22], b"HEADER-OF-ANOTHER-TOOL");
    assert_eq!(&bytes[0x100..0x108], b"PSRS-MIG");
    let dst = Setup::new("xics", 2, 16);
    let conn = transport::listen(&uri, &opts()).unwrap().accept().unwrap();
    let (_, got) = receive(&dst, conn).unwrap();
    assert!(got == ram);
    assert_eq!(dst.snapshot(), src.snapshot());
    // A missing file is named.
    let missing = MigrationUri::File {
        path: dir.join("nope"),
        offset: 0,
    };
    let e = transport::listen(&missing, &opts())
        .unwrap()
        .accept()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Could not open '{}': No such file or directory",
            dir.join("nope").display()
        )
    );
}

#[test]
fn refused_connections_say_so() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let uri = MigrationUri::parse_outgoing(&format!("tcp:127.0.0.1:{port}")).unwrap();
    let e = transport::connect(&uri, &opts()).unwrap_err();
    assert!(matches!(e, TransportError::ConnectionRefused { .. }));
    assert_eq!(
        e.to_string(),
        format!("Failed to connect to '127.0.0.1:{port}': Connection refused")
    );

    let dir = TempDir::new("refused");
    let nobody = dir.join("nobody.sock");
    let e = transport::connect(&MigrationUri::Unix(nobody.clone()), &opts()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Failed to connect to '{}': No such file or directory",
            nobody.display()
        )
    );
    // A socket file whose listener is gone refuses.
    let stale = dir.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let e = transport::connect(&MigrationUri::Unix(stale.clone()), &opts()).unwrap_err();
    assert!(matches!(e, TransportError::ConnectionRefused { .. }), "{e}");
    // Listening there again replaces the stale socket, as QEMU does.
    let l = transport::listen(&MigrationUri::Unix(stale.clone()), &opts()).unwrap();
    drop(l);
    assert!(!stale.exists(), "the listener removes its socket");
}

#[test]
fn peer_gone_mid_stream_is_reported_on_both_sides() {
    let src = Setup::new("xics", 4, 64);
    src.scramble(1);
    let whole = src.snapshot();

    // The source sends half the stream and goes away.
    let listener = transport::listen(
        &MigrationUri::parse_incoming("tcp:127.0.0.1:0").unwrap(),
        &opts(),
    )
    .unwrap();
    let target = listener.local_uri().clone();
    let half = whole[..whole.len() / 2].to_vec();
    let sender = thread::spawn(move || {
        let mut c = transport::connect(&target, &opts()).unwrap();
        c.write_all(&half).unwrap();
        c.finish().unwrap();
    });
    let conn = listener.accept().unwrap();
    let peer = conn.peer().to_owned();
    let dst = Setup::new("xics", 4, 64);
    let before = dst.snapshot();
    let mut loader = Loader::new();
    loader.components(dst.components());
    let e = loader.load(conn).unwrap_err();
    sender.join().unwrap();
    match &e {
        MigrationError::Transport(TransportError::PeerGone {
            bytes,
            direction: "received",
            ..
        }) => {
            assert_eq!(*bytes, whole.len() as u64 / 2)
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        e.to_string(),
        format!(
            "migration peer {peer} went away after {} bytes were received",
            whole.len() / 2
        )
    );
    assert_eq!(dst.snapshot(), before);

    // The destination goes away while the source still sends.
    let dir = TempDir::new("gone");
    let uri = MigrationUri::Unix(dir.join("gone.sock"));
    let listener = transport::listen(&uri, &opts()).unwrap();
    let receiver = thread::spawn(move || {
        let mut c = listener.accept().unwrap();
        let mut first = [0u8; 12];
        std::io::Read::read_exact(&mut c, &mut first).unwrap();
        drop(c);
    });
    let big = vec![0x77u8; 32 << 20];
    let conn = transport::connect(&uri, &opts()).unwrap();
    let e = send(&src, &big, conn).unwrap_err();
    receiver.join().unwrap();
    assert!(
        matches!(
            e,
            MigrationError::Transport(TransportError::PeerGone {
                direction: "sent",
                ..
            })
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with(&format!("migration peer {uri} went away after ")),
        "{e}"
    );
}

#[test]
fn silence_and_absence_time_out() {
    let short = TransportOptions {
        connect_timeout: Duration::from_secs(5),
        accept_timeout: Some(Duration::from_millis(100)),
        io_timeout: Some(Duration::from_millis(150)),
    };
    // Nobody connects.
    let listener = transport::listen(
        &MigrationUri::parse_incoming("tcp:127.0.0.1:0").unwrap(),
        &short,
    )
    .unwrap();
    let e = listener.accept().unwrap_err();
    assert!(matches!(e, TransportError::AcceptTimeout { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("no incoming migration connection on tcp:127.0.0.1:"),
        "{e}"
    );

    // The source connects, sends the preamble and stalls.
    let stall_opts = TransportOptions {
        accept_timeout: Some(Duration::from_secs(20)),
        ..short
    };
    let listener = transport::listen(
        &MigrationUri::parse_incoming("tcp:127.0.0.1:0").unwrap(),
        &stall_opts,
    )
    .unwrap();
    let target = listener.local_uri().clone();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let sender = thread::spawn(move || {
        let mut c = transport::connect(&target, &opts()).unwrap();
        c.write_all(b"PSRS-MIG\x00\x01\x00\x00").unwrap();
        let _ = done_rx.recv();
    });
    let conn = listener.accept().unwrap();
    let dst = Setup::new("xics", 1, 4);
    let mut loader = Loader::new();
    loader.components(dst.components());
    let e = loader.load(conn).unwrap_err();
    done_tx.send(()).unwrap();
    sender.join().unwrap();
    match &e {
        MigrationError::Transport(TransportError::Timeout {
            direction: "received",
            bytes: 12,
            ..
        }) => {}
        other => panic!("{other}"),
    }
    assert!(
        e.to_string()
            .contains("timed out: nothing received for 150 ms, after 12 bytes"),
        "{e}"
    );

    // The destination accepts and never reads: the source times out.
    let listener = transport::listen(
        &MigrationUri::parse_incoming("tcp:127.0.0.1:0").unwrap(),
        &opts(),
    )
    .unwrap();
    let target = listener.local_uri().clone();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let receiver = thread::spawn(move || {
        let _c = listener.accept().unwrap();
        let _ = done_rx.recv();
    });
    let conn = transport::connect(&target, &short).unwrap();
    let src = Setup::new("xics", 1, 4);
    let e = send(&src, &vec![1u8; 64 << 20], conn).unwrap_err();
    done_tx.send(()).unwrap();
    receiver.join().unwrap();
    assert!(
        matches!(
            e,
            MigrationError::Transport(TransportError::Timeout {
                direction: "sent",
                ..
            })
        ),
        "{e}"
    );
}
