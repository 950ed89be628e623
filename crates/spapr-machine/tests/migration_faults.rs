//! Faults during migration over real unix sockets.
//!
//! The source runs the `migrate` guest, which sets up pending interrupts,
//! queues, masks and a 2 MiB memory pattern, prints `WAIT: migrate` and
//! then polls the console; after the key it checks that every piece of that
//! state is still there and still works. Each test makes migrations fail
//! in one way (the peer closes at some byte offset, stops reading, refuses
//! the stream) and checks that `Machine::migrate_to` says what happened,
//! leaves the machine running, and that the guest, once given its key,
//! passes every check: nothing was lost. The destination side is checked
//! the same way with `Machine::migrate_from` and a source that vanishes or
//! stalls: the destination's device state stays exactly as it was.

mod reliability_guest;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use migration::TransportOptions;
use reliability_guest::{boot_image, fingerprint};
use spapr_machine::control::ExitReason;
use spapr_machine::machine::Machine;

/// A socket path of its own for each use.
fn socket(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pseries-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{tag}.sock"));
    let _ = std::fs::remove_file(&p);
    p
}

fn uri(p: &Path) -> String {
    format!("unix:{}", p.display())
}

fn opts(io: Duration) -> TransportOptions {
    TransportOptions {
        connect_timeout: Duration::from_secs(5),
        accept_timeout: Some(Duration::from_secs(20)),
        io_timeout: Some(io),
    }
}

/// Starts the `migrate` guest and waits for its prompt.
fn source(machine: &str, append: &str) -> Arc<Machine> {
    let m = boot_image(machine, 2, "migrate", append);
    m.start(false);
    let start = Instant::now();
    while !String::from_utf8_lossy(&m.transcript()).contains("WAIT: migrate") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no prompt:\n{}",
            String::from_utf8_lossy(&m.transcript())
        );
        thread::sleep(Duration::from_millis(5));
    }
    m
}

/// Gives the guest its key and runs it to the end; it must pass.
fn finish(m: &Arc<Machine>) -> String {
    m.console_input(b"k");
    let stop = {
        let m = Arc::clone(m);
        thread::spawn(move || {
            let start = Instant::now();
            while !m.is_finished() && start.elapsed() < Duration::from_secs(60) {
                thread::sleep(Duration::from_millis(10));
            }
            if !m.is_finished() {
                m.request_exit(ExitReason::Error("test time limit".into()));
            }
        })
    };
    let reason = m.run_until_exit();
    stop.join().unwrap();
    let out = String::from_utf8_lossy(&m.transcript()).into_owned();
    assert_eq!(reason, ExitReason::PowerOff, "{out}");
    // A destination's transcript starts after the prompt.
    let after = out.split("WAIT: migrate").last().unwrap_or_default();
    assert!(after.contains("EXIT: STATUS=1"), "{out}");
    assert!(!after.contains("FAIL:"), "{out}");
    assert!(after.contains("pending IPI delivered"), "{out}");
    out
}

/// The length of the stream `m` would send now (paused for the save).
fn stream_len(m: &Arc<Machine>) -> usize {
    m.pause();
    let n = m.save_state(Vec::new()).unwrap().len();
    m.resume();
    n
}

/// A peer that accepts one connection and runs `f` on it.
fn peer(path: &Path, f: impl FnOnce(UnixStream) + Send + 'static) -> thread::JoinHandle<()> {
    let l = UnixListener::bind(path).unwrap();
    thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        f(s);
    })
}

/// Reads up to `n` bytes (less if the source stops first).
fn read_n(s: &mut UnixStream, n: usize) -> usize {
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < n {
        let want = (n - got).min(buf.len());
        match s.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    got
}

#[test]
fn peers_that_vanish_or_stall_leave_the_source_running_with_nothing_lost() {
    let src = source("pseries", "");
    let len = stream_len(&src);
    // Past this offset the whole rest of the stream may already sit in
    // the socket buffers when the peer closes: see the return-path test.
    let margin = 1 << 20;
    assert!(
        len > 2 * margin,
        "stream of {len} bytes is too small for this test"
    );
    let mut offsets = vec![0, 1, 11, 12, 13, 100, 4096, 65_536];
    offsets.extend([len / 5, len / 3, len / 2, len - margin]);
    for (i, &n) in offsets.iter().enumerate() {
        let path = socket(&format!("vanish{i}"));
        let p = peer(&path, move |mut s| {
            read_n(&mut s, n);
            // Dropping the socket closes it with unread data: the source
            // sees a reset or a broken pipe.
        });
        let t = Instant::now();
        let err = src
            .migrate_to(&uri(&path), &opts(Duration::from_secs(10)))
            .expect_err("the peer vanished");
        p.join().unwrap();
        let text = err.to_string();
        assert!(
            text.contains("went away after") && text.contains("bytes were sent"),
            "offset {n}: {text}"
        );
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "offset {n}: took {:?}",
            t.elapsed()
        );
        assert!(!src.is_paused(), "offset {n}: the source did not resume");
        assert!(!src.is_finished());
    }

    // A peer that takes some of the stream and then stops reading without
    // closing: the source gives up after its I/O timeout.
    for (i, n) in [0usize, 300_000].into_iter().enumerate() {
        let path = socket(&format!("stall{i}"));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let p = peer(&path, move |mut s| {
            read_n(&mut s, n);
            let _ = rx.recv_timeout(Duration::from_secs(30));
        });
        let t = Instant::now();
        let err = src
            .migrate_to(&uri(&path), &opts(Duration::from_millis(300)))
            .expect_err("the peer stalled");
        let waited = t.elapsed();
        tx.send(()).unwrap();
        p.join().unwrap();
        let text = err.to_string();
        assert!(
            text.contains("timed out: nothing sent for 300 ms"),
            "{text}"
        );
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        assert!(!src.is_paused());
    }

    // Nobody listening at all.
    let err = src
        .migrate_to(&uri(&socket("nobody")), &opts(Duration::from_secs(1)))
        .expect_err("nobody listens");
    assert!(err.to_string().contains("Failed to connect"), "{err}");
    assert!(!src.is_paused());

    finish(&src);
}

#[test]
fn a_destination_that_refuses_is_reported_and_the_source_goes_on() {
    let src = source("pseries", "");
    // The destination has 4 vCPUs: it refuses at the header and hangs up.
    let dst = boot_image("pseries", 4, "migrate", "");
    let before = fingerprint(&dst);
    let path = socket("refuse");
    let listening = {
        let (dst, path) = (Arc::clone(&dst), path.clone());
        thread::spawn(move || {
            dst.migrate_from(&uri(&path), &opts(Duration::from_secs(10)), || {})
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    };
    while !path.exists() {
        thread::sleep(Duration::from_millis(2));
    }
    let err = src
        .migrate_to(&uri(&path), &opts(Duration::from_secs(10)))
        .expect_err("the destination refused");
    let dst_err = listening.join().unwrap().expect_err("refused");
    assert!(
        dst_err.contains("vCPU count received is 2 and local is 4"),
        "{dst_err}"
    );
    assert!(err.to_string().contains("went away after"), "{err}");
    assert!(!src.is_paused());
    assert_eq!(
        fingerprint(&dst),
        before,
        "the refusing destination changed"
    );

    // Then a destination that takes it: the guest finishes there.
    let good = boot_image("pseries", 2, "migrate", "");
    let path = socket("accept");
    let listening = {
        let (good, path) = (Arc::clone(&good), path.clone());
        thread::spawn(move || {
            good.migrate_from(&uri(&path), &opts(Duration::from_secs(10)), || {})
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    };
    while !path.exists() {
        thread::sleep(Duration::from_millis(2));
    }
    let stats = src
        .migrate_to(&uri(&path), &opts(Duration::from_secs(10)))
        .expect("migration");
    listening.join().unwrap().expect("loaded");
    assert!(stats.bytes > 0);
    assert!(
        src.is_paused(),
        "a migrated source stays paused (postmigrate)"
    );
    good.start(false);
    finish(&good);
    src.request_exit(ExitReason::Quit);
    src.resume();
    let _ = src.run_until_exit();
}

/// Offset of the BULK_INDEX record in a stream (the first byte any RAM
/// depends on).
fn bulk_index_offset(s: &[u8]) -> usize {
    let mut at = 12;
    while at + 5 <= s.len() {
        if s[at] == 0x03 {
            return at;
        }
        at += 5 + u32::from_be_bytes(s[at + 1..at + 5].try_into().unwrap()) as usize;
    }
    s.len()
}

#[test]
fn a_source_that_vanishes_or_stalls_leaves_the_destination_untouched() {
    let src = source("pseries,ic-mode=xics", "xics");
    src.pause();
    let stream = Arc::new(src.save_state(Vec::new()).unwrap());
    let bulk = bulk_index_offset(&stream);
    let cases: Vec<(usize, bool)> = [
        0,
        7,
        12,
        40,
        bulk / 2,
        bulk - 1,
        bulk + 100,
        stream.len() - 1,
    ]
    .into_iter()
    .map(|n| (n, false))
    .chain([(bulk / 2, true), (bulk + 5000, true)])
    .collect();
    for (i, (n, stall)) in cases.into_iter().enumerate() {
        let dst = boot_image("pseries,ic-mode=xics", 2, "migrate", "xics");
        let before = fingerprint(&dst);
        let path = socket(&format!("src{i}"));
        let listening = {
            let (dst, path) = (Arc::clone(&dst), path.clone());
            thread::spawn(move || {
                dst.migrate_from(&uri(&path), &opts(Duration::from_millis(300)), || {})
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        };
        while !path.exists() {
            thread::sleep(Duration::from_millis(2));
        }
        let s = Arc::clone(&stream);
        let sender = thread::spawn(move || {
            let mut c = UnixStream::connect(&path).unwrap();
            let _ = c.write_all(&s[..n]);
            if stall {
                thread::sleep(Duration::from_secs(2));
            }
        });
        let err = listening.join().unwrap().expect_err("incomplete stream");
        sender.join().unwrap();
        if stall {
            assert!(
                err.contains("timed out: nothing received for 300 ms"),
                "{n}: {err}"
            );
        } else {
            assert!(
                err.contains(&format!("went away after {n} bytes were received")),
                "{n}: {err}"
            );
        }
        let after = fingerprint(&dst);
        assert_eq!(after.0, before.0, "offset {n}: device state changed");
        if n <= bulk {
            assert!(
                after.1 == before.1,
                "offset {n}: RAM changed before any RAM was sent"
            );
        }
    }
    src.request_exit(ExitReason::Quit);
    src.resume();
    let _ = src.run_until_exit();
}

/// A destination that takes the whole stream and then fails (it refuses
/// the END record, a post-load hook fails, the process dies) is
/// indistinguishable, for the source, from one that succeeded: nothing comes
/// back on the socket. `migrate_to` then reports success and leaves the
/// source paused for good, and the guest is lost unless an operator
/// resumes it by hand.
#[test]

fn a_destination_failing_after_the_last_byte_is_reported() {
    let src = source("pseries", "");
    let path = socket("silent-end");
    let p = peer(&path, |mut s| {
        read_n(&mut s, usize::MAX);
        // Refuses (or crashes) here, without a word to the source.
    });
    let res = src.migrate_to(&uri(&path), &opts(Duration::from_secs(5)));
    p.join().unwrap();
    assert!(res.is_err(), "the source was told the migration succeeded");
    assert!(!src.is_paused(), "the source did not resume");
    finish(&src);
}
