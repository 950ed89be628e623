//! Fuzzes the bounded reader and the two-phase loader.
//!
//! The first input byte picks how the rest is used:
//! - 0: the bytes are the stream;
//! - 1: the same, with the END record's checksum recomputed when the input
//!   ends with an END record, so that mutations reach the components'
//!   decoding and the apply phase;
//! - 2: a valid stream of a small dual-mode machine with RAM, overwritten at
//!   the positions the input gives (and its END checksum recomputed).
//!
//! Oracle: no panic, no abort on allocation; and a refused stream leaves
//! the destination's device state byte for byte as it was.

#![no_main]

#[path = "../../tests/common/mod.rs"]
#[allow(dead_code, clippy::all)]
mod common;

use std::sync::OnceLock;

use common::Setup;
use libfuzzer_sys::fuzz_target;
use migration::{inspect, BulkDecl, Limits, Loader, StreamWriter};

const RAM: usize = 4096;

/// Valid streams for 8 seeds, built once.
fn valid_stream(seed: u8) -> &'static [u8] {
    static STREAMS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    &STREAMS.get_or_init(|| (0..8).map(build_stream).collect())[usize::from(seed % 8)]
}

/// The state of a fresh destination, saved once.
fn fresh_snapshot() -> &'static [u8] {
    static SNAPSHOT: OnceLock<Vec<u8>> = OnceLock::new();
    SNAPSHOT.get_or_init(|| Setup::new("dual", 2, 8).snapshot())
}

fn build_stream(seed: u8) -> Vec<u8> {
    let src = Setup::new("dual", 2, 8);
    src.scramble(u32::from(seed));
    let mut w = StreamWriter::new(Vec::new(), &src.header()).unwrap();
    for c in src.components() {
        w.save(c.as_ref()).unwrap();
    }
    w.begin_bulk(&[BulkDecl {
        name: "ram".into(),
        instance_id: 0,
        version_id: 1,
        len: RAM as u64,
    }])
    .unwrap();
    let mut ram = vec![0u8; RAM];
    ram[1024..2048].fill(seed | 1);
    w.set_chunk_size(512).unwrap();
    w.bulk_pages(&ram, 256).unwrap();
    w.finish().unwrap()
}

fn fix_end(s: &mut [u8]) {
    let n = s.len();
    if n >= 13 && s[n - 13] == 0x7f && s[n - 12..n - 8] == [0, 0, 0, 8] {
        let crc = migration_crc(&s[..n - 13]);
        s[n - 8..n - 4].copy_from_slice(&crc.to_be_bytes());
    }
}

/// CRC32 (IEEE), bitwise: the fuzz crate needs no other dependency.
fn migration_crc(b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in b {
        c ^= u32::from(x);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn run(stream: &[u8]) {
    let shown = inspect::inspect(stream, &Limits::default());
    let _ = shown.to_text(false);

    let dst = Setup::new("dual", 2, 8);
    let mut sink = vec![0u8; RAM];
    let mut loader = Loader::new();
    loader
        .components(dst.components())
        .bulk("ram", 0, 1, 1, &mut sink);
    let res = loader.load_slice(stream);
    drop(loader);
    if res.is_err() {
        assert!(
            dst.snapshot() == fresh_snapshot(),
            "a refused stream changed the destination"
        );
    }
    if res.is_ok() {
        assert!(shown.is_valid(), "a loaded stream did not inspect as valid");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => run(rest),
        1 => {
            let mut s = rest.to_vec();
            fix_end(&mut s);
            run(&s);
        }
        _ => {
            let mut s = valid_stream(rest.first().copied().unwrap_or(0)).to_vec();
            let n = s.len();
            for edit in rest.get(1..).unwrap_or_default().chunks_exact(3) {
                s[usize::from(u16::from_be_bytes([edit[0], edit[1]])) % n] = edit[2];
            }
            fix_end(&mut s);
            run(&s);
        }
    }
});
