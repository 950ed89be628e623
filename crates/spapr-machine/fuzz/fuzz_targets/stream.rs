//! Fuzzes the machine's incoming migration with mutated real streams.
//!
//! Base streams come from machines of each ic-mode and several machine
//! versions (xics, xive, dual with XIVE and with XICS negotiated,
//! pseries-3.0 legacy, pseries-4.2, pseries-7.2), saved after a guest
//! driver set up routes and queues, left interrupts pending, allocated
//! MSIs, queued an EPOW event and console input, so that every optional
//! subsection is present somewhere. They are built once.
//!
//! Input: byte 0 picks the base stream, byte 1 the destination (the same
//! configuration, or another one), byte 2 whether checksums are fixed up;
//! then mutations, each a kind byte and operands:
//! - a value anywhere in a section's fields (decoded as MessagePack)
//!   replaced by an interesting one (0, 1, -1, extremes, another type, a
//!   long string or array);
//! - bytes of a record's payload overwritten, or the payload replaced;
//! - a record dropped, duplicated, moved;
//! - bytes of the finished stream overwritten, or the stream cut short.
//!
//! With fix-ups, record lengths, the device-part CRC of BULK_INDEX and the
//! END record's CRC and record count are recomputed, so that mutations
//! reach section decoding, the machine's checks and the apply phase.
//!
//! Oracle: no panic, no abort; a refused stream leaves the destination's
//! device state exactly as it was (every section, compared as JSON without
//! the time-varying fields) and its RAM too unless the refusal came from
//! the stream layer or a bulk section, which may fail after RAM pages
//! arrived (a destination that refused a stream is not resumed); an
//! accepted stream leaves a machine that saves again and whose stream
//! loads into a third machine.

#![no_main]

#[path = "../../tests/reliability_guest/mod.rs"]
#[allow(dead_code, clippy::all)]
mod reliability_guest;
#[path = "support/mod.rs"]
mod support;

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use migration::MigrationError;
use reliability_guest::{self as g, Guest, Intc};
use rmpv::Value;
use spapr_machine::machine::Machine;
use support::Input;

/// (machine, controller the guest negotiates).
const SOURCES: [(&str, Intc); 8] = [
    ("pseries,ic-mode=xics", Intc::Xics),
    ("pseries,ic-mode=xive", Intc::Xive),
    ("pseries", Intc::Xive),
    ("pseries", Intc::Xics),
    ("pseries-3.0", Intc::Xics),
    ("pseries-4.2", Intc::Xive),
    ("pseries-7.2", Intc::Xics),
    ("pseries-7.2,ic-mode=xive", Intc::Xive),
];

/// Destinations besides the source's own configuration.
const OTHER_DESTS: [&str; 4] = [
    "pseries",
    "pseries,ic-mode=xics",
    "pseries-3.0",
    "pseries-7.2",
];

const SMP: u32 = 2;

/// A guest's activity: what both sources and destinations go through, so
/// that the destination's state is not a reset state. `events` adds what
/// depends on the time of day (an EPOW log), for sources only.
fn activity(m: &Machine, intc: Intc, events: bool) {
    if intc == Intc::Xive || m.irq().has("xive") {
        g::cas(m, intc == Intc::Xive);
    }
    let first = m.irq().msi_alloc(4, spapr_irq::MsiKind::MsiX).ok();
    let mut guest = Guest::new(m, intc);
    guest.init(m, &[6, 3]);
    if let Some(first) = first {
        for k in 0..4 {
            guest.route(m, first + k, k % SMP, [6, 3][(k % 2) as usize]);
        }
        m.pulse_irq(first);
        m.pulse_irq(first + 1);
        m.pulse_irq(first + 3);
        let _ = guest.accept_one(m, 1);
    }
    guest.route(m, 0x1200, 0, 5);
    m.set_irq(0x1200, true);
    guest.ipi(m, 0, 1, 4);
    m.console_input(b"hello");
    if events {
        m.powerdown();
    }
}

fn build(machine: &str, intc: Intc, events: bool) -> Arc<Machine> {
    let m = g::build(machine, SMP);
    activity(&m, intc, events);
    m
}

/// A stream split into its preamble and (tag, payload) records.
type Split = (Vec<u8>, Vec<(u8, Vec<u8>)>);

/// The base streams, split.
fn bases() -> &'static [Split] {
    static B: OnceLock<Vec<Split>> = OnceLock::new();
    B.get_or_init(|| {
        SOURCES
            .iter()
            .map(|&(machine, intc)| {
                let s = build(machine, intc, true).save_state(Vec::new()).unwrap();
                split(&s)
            })
            .collect()
    })
}

/// A machine's state without what moves while it stands still: the
/// device part of a saved stream (every record before BULK_INDEX) with
/// the values of `timebase`, `time_of_day_ns` and `dec` cut out, and a
/// digest of each non-zero RAM page the host populated. Byte-exact, and
/// much cheaper than decoding the sections.
type Fingerprint = (u64, Vec<(u64, u64)>);

fn fingerprint(m: &Arc<Machine>) -> Fingerprint {
    let stream = m.save_state(Vec::new()).expect("save");
    let (_, recs) = split(&stream);
    let mut device = Vec::new();
    for (tag, payload) in recs.iter().take_while(|r| r.0 != 0x03 && r.0 != 0x7F) {
        device.push(*tag);
        device.extend_from_slice(&strip_volatile(payload));
    }
    (support::digest(&device), g::fingerprint_ram(m))
}

/// Removes the MessagePack unsigned value after each volatile key.
fn strip_volatile(p: &[u8]) -> Vec<u8> {
    const KEYS: [&[u8]; 3] = [b"\xa8timebase", b"\xaetime_of_day_ns", b"\xa3dec"];
    let mut out = Vec::with_capacity(p.len());
    let mut i = 0;
    'scan: while i < p.len() {
        // The key's first byte first: a slice comparison at every offset
        // would go through libFuzzer's memcmp hook 300,000 times.
        if !matches!(p[i], 0xA3 | 0xA8 | 0xAE) {
            out.push(p[i]);
            i += 1;
            continue;
        }
        for k in KEYS {
            if p[i..].starts_with(k) {
                out.extend_from_slice(k);
                i += k.len();
                let skip = match p.get(i) {
                    Some(0xCC) => 2,
                    Some(0xCD) => 3,
                    Some(0xCE) => 5,
                    Some(0xCF) => 9,
                    Some(_) => 1,
                    None => 0,
                };
                i += skip;
                continue 'scan;
            }
        }
        out.push(p[i]);
        i += 1;
    }
    out
}

/// Destination configurations and their fingerprints before any load.
fn dest_fingerprint(i: usize) -> &'static Fingerprint {
    static F: OnceLock<Vec<OnceLock<Fingerprint>>> = OnceLock::new();
    let all = F.get_or_init(|| {
        (0..SOURCES.len() + OTHER_DESTS.len())
            .map(|_| OnceLock::new())
            .collect()
    });
    all[i].get_or_init(|| fingerprint(&dest(i)))
}

fn dest(i: usize) -> Arc<Machine> {
    match SOURCES.get(i) {
        Some(&(machine, intc)) => build(machine, intc, false),
        None => build(OTHER_DESTS[i - SOURCES.len()], Intc::Xics, false),
    }
}

fn split(s: &[u8]) -> Split {
    let pre = s[..12].to_vec();
    let mut recs = Vec::new();
    let mut at = 12;
    while at + 5 <= s.len() {
        let len = u32::from_be_bytes(s[at + 1..at + 5].try_into().unwrap()) as usize;
        recs.push((s[at], s[at + 5..at + 5 + len].to_vec()));
        at += 5 + len;
    }
    (pre, recs)
}

/// CRC-32/ISO-HDLC, bitwise: no other dependency needed.
fn crc32(b: &[u8]) -> u32 {
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

/// Serialises records; with `fix`, BULK_INDEX's `crc32` and the END record
/// are recomputed.
fn join(pre: &[u8], recs: &[(u8, Vec<u8>)], fix: bool) -> Vec<u8> {
    let mut out = pre.to_vec();
    for (n, (tag, payload)) in recs.iter().enumerate() {
        let mut payload = payload.clone();
        if fix && *tag == 0x03 {
            if let Ok(Value::Map(mut map)) = rmpv::decode::read_value(&mut payload.as_slice()) {
                for (k, v) in map.iter_mut() {
                    if k.as_str() == Some("crc32") {
                        *v = Value::from(crc32(&out));
                    }
                }
                payload.clear();
                rmpv::encode::write_value(&mut payload, &Value::Map(map)).unwrap();
            }
        }
        if fix && *tag == 0x7F {
            payload = crc32(&out).to_be_bytes().to_vec();
            payload.extend_from_slice(&(n as u32).to_be_bytes());
        }
        out.push(*tag);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
    }
    out
}

/// An interesting replacement for a MessagePack value.
fn interesting(inp: &mut Input, old: &Value) -> Value {
    match inp.u8() % 14 {
        0 => Value::from(0),
        1 => Value::from(1),
        2 => Value::from(-1),
        3 => Value::from(u64::MAX),
        4 => Value::from(i64::MIN),
        5 => Value::from(u32::MAX),
        6 => Value::from(0x1000 + u64::from(inp.u16())),
        7 => Value::Nil,
        8 => Value::from(true),
        9 => Value::from("x".repeat(usize::from(inp.u8()))),
        10 => Value::Array(vec![Value::from(0); usize::from(inp.u8())]),
        11 => {
            let n = usize::from(inp.u8() % 64);
            Value::Binary(inp.bytes(n))
        }
        12 => match old {
            Value::Integer(i) => Value::from(i.as_u64().unwrap_or(0) ^ (1 << (inp.u8() % 64))),
            Value::Array(a) if !a.is_empty() => {
                let mut a = a.clone();
                a.truncate(usize::from(inp.u8()) % a.len());
                Value::Array(a)
            }
            _ => Value::Map(vec![]),
        },
        _ => Value::from(u64::from(inp.u32())),
    }
}

/// Replaces the `k`-th leaf (in depth-first order) of `v`.
fn replace_leaf(v: &mut Value, k: &mut usize, inp: &mut Input) -> bool {
    match v {
        Value::Array(a) => a.iter_mut().any(|x| replace_leaf(x, k, inp)),
        Value::Map(m) => m.iter_mut().any(|(_, x)| replace_leaf(x, k, inp)),
        leaf => {
            if *k == 0 {
                *leaf = interesting(inp, leaf);
                true
            } else {
                *k -= 1;
                false
            }
        }
    }
}

fn mutate(
    inp: &mut Input,
    recs: &mut Vec<(u8, Vec<u8>)>,
    cut: &mut Option<usize>,
    raw: &mut Vec<(usize, u8)>,
) {
    let mut edits = 0;
    while !inp.is_empty() && edits < 8 {
        edits += 1;
        let n = recs.len();
        let i = usize::from(inp.u16()) % n;
        match inp.u8() % 10 {
            0..=3 => {
                if recs[i].0 != 0x02 && recs[i].0 != 0x01 {
                    continue;
                }
                if let Ok(mut v) = rmpv::decode::read_value(&mut recs[i].1.as_slice()) {
                    let mut k = usize::from(inp.u16());
                    let leaves = count_leaves(&v).max(1);
                    k %= leaves;
                    replace_leaf(&mut v, &mut k, inp);
                    let mut out = Vec::new();
                    rmpv::encode::write_value(&mut out, &v).unwrap();
                    recs[i].1 = out;
                }
            }
            4 => {
                let p = &mut recs[i].1;
                if !p.is_empty() {
                    let at = usize::from(inp.u16()) % p.len();
                    p[at] = inp.u8();
                }
            }
            5 => {
                let len = usize::from(inp.u8());
                recs[i].1 = inp.bytes(len);
            }
            6 => {
                recs.remove(i);
                if recs.is_empty() {
                    return;
                }
            }
            7 => {
                let r = recs[i].clone();
                recs.insert(usize::from(inp.u16()) % n, r);
            }
            8 => *cut = Some(usize::from(inp.u16()) << 4 | usize::from(inp.u8() & 0xF)),
            _ => raw.push((inp.u32() as usize, inp.u8())),
        }
    }
}

fn count_leaves(v: &Value) -> usize {
    match v {
        Value::Array(a) => a.iter().map(count_leaves).sum(),
        Value::Map(m) => m.iter().map(|(_, x)| count_leaves(x)).sum(),
        _ => 1,
    }
}

fn run(data: &[u8]) {
    let mut inp = Input(data);
    let b = usize::from(inp.u8()) % SOURCES.len();
    let d = match inp.u8() {
        x if x < 0xC0 => b,
        x => SOURCES.len() + usize::from(x) % OTHER_DESTS.len(),
    };
    let fix = inp.u8() < 0xF0;
    let (pre, base) = &bases()[b];
    let mut recs = base.clone();
    let (mut cut, mut raw) = (None, Vec::new());
    mutate(&mut inp, &mut recs, &mut cut, &mut raw);
    let mut stream = join(pre, &recs, fix);
    for (at, v) in raw {
        let n = stream.len();
        stream[at % n] = v;
    }
    if let Some(c) = cut {
        stream.truncate(c);
    }

    let dst = dest(d);
    match dst.load_state(stream.as_slice()) {
        Err(e) => {
            let (sections, ram) = fingerprint(&dst);
            let (want_sections, want_ram) = dest_fingerprint(d);
            assert!(
                &sections == want_sections,
                "a refused stream changed the destination's device state ({e})"
            );
            if &ram != want_ram {
                let bulk_phase = match &e {
                    spapr_machine::migrate::MachineMigrationError::Stream(m) => matches!(
                        m.root(),
                        MigrationError::Stream(_) | MigrationError::Bulk { .. }
                    ),
                    spapr_machine::migrate::MachineMigrationError::Io(_) => true,
                };
                assert!(
                    bulk_phase,
                    "a stream refused before its RAM changed RAM: {e}"
                );
            }
        }
        Ok(_) => {
            let _ = dst.info_pic();
            let again = dst.save_state(Vec::new()).expect("a loaded machine saves");
            let third = dest(d);
            if let Err(e) = third.load_state(again.as_slice()) {
                panic!("the state of a loaded stream does not load again: {e}");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| run(data));
