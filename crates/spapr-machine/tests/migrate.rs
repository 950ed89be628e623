//! Machine migration: a running guest moves to a second machine and goes
//! on; refused streams leave the destination untouched.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use spapr_machine::control::ExitReason;
use spapr_machine::machine::Machine;

/// Starts `m` and waits until its console shows `line`.
fn run_until(m: &Arc<Machine>, line: &str, limit: Duration) {
    m.start(false);
    let start = Instant::now();
    while !String::from_utf8_lossy(&m.transcript()).contains(line) {
        assert!(
            start.elapsed() < limit,
            "no '{line}' in time:\n{}",
            String::from_utf8_lossy(&m.transcript())
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Migrates `src` (running the migrate guest, waiting at its prompt) into
/// a new machine of `dest_machine` type and returns the destination.
fn migrate(src: &Arc<Machine>, dest_machine: &str, smp: u32, append: &str) -> Arc<Machine> {
    src.pause();
    let stream = src.save_state(Vec::new()).expect("save");
    let dst = common::machine(dest_machine, smp, "migrate", append);
    dst.load_state(stream.as_slice()).expect("load");
    dst
}

fn finish(dst: &Arc<Machine>) -> String {
    dst.console_input(b"k");
    let (reason, out) = common::run(dst, Duration::from_secs(60));
    assert_eq!(reason, ExitReason::PowerOff, "{out}");
    out
}

fn expect_all_passed(out: &str) {
    assert!(out.contains("EXIT: STATUS=1"), "{out}");
    assert!(!out.contains("FAIL:"), "{out}");
}

#[test]
fn a_xive_guest_moves_and_keeps_its_interrupts() {
    let src = common::machine("pseries", 2, "migrate", "");
    run_until(&src, "WAIT: migrate", Duration::from_secs(30));
    let dst = migrate(&src, "pseries", 2, "");
    let out = finish(&dst);
    expect_all_passed(&out);
    // The transcript continues QEMU's: same checks after the migration.
    let qemu = std::fs::read_to_string(format!(
        "{}/../../guests/expected/qemu-7.2/migrate.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let after: Vec<&str> = qemu
        .lines()
        .skip_while(|l| !l.starts_with("WAIT: migrate"))
        .skip(1)
        .filter(|l| !l.starts_with("TIME:") && !l.is_empty())
        .collect();
    let ours: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with("TIME:") && !l.is_empty())
        .collect();
    assert_eq!(ours, after);
}

#[test]
fn the_registry_holds_both_controllers() {
    let names: Vec<&str> = spapr_irq::backends().iter().map(|b| b.name).collect();
    assert!(
        names.contains(&"xics") && names.contains(&"xive"),
        "{names:?}"
    );
}

/// A guest on an XICS-only machine moves to a dual machine and goes on,
/// including the interrupt sources it configures after the move (QEMU 7.2
/// aborts there: the dual destination's XIVE never saw the source's
/// run-time claims).
#[test]
fn a_xics_guest_moves_to_a_dual_machine_and_goes_on() {
    let src = common::machine("pseries,ic-mode=xics", 2, "migrate", "xics");
    run_until(&src, "WAIT: migrate", Duration::from_secs(30));
    let dst = migrate(&src, "pseries,ic-mode=dual", 2, "xics");
    expect_all_passed(&finish(&dst));
}

/// On every machine version with both controllers, in each ic-mode: boot,
/// CAS, interrupts left pending and queued, save, load into a second
/// machine, and the guest finds everything delivered afterwards.
#[test]
fn every_version_and_mode_migrates_with_pending_interrupts() {
    for version in ["4.1", "4.2", "5.0", "7.2", "9.0", "11.0"] {
        for (mode, append) in [
            ("xics", "xics"),
            ("xive", ""),
            ("dual", ""),
            ("dual", "xics"),
        ] {
            let machine = format!("pseries-{version},ic-mode={mode}");
            let src = common::machine(&machine, 2, "migrate", append);
            run_until(&src, "WAIT: migrate", Duration::from_secs(30));
            let dst = migrate(&src, &machine, 2, append);
            let out = finish(&dst);
            assert!(
                out.contains("EXIT: STATUS=1") && !out.contains("FAIL:"),
                "{machine} {append}:\n{out}"
            );
        }
    }
}

#[test]
fn a_xics_guest_moves_three_times() {
    let src = common::machine("pseries", 2, "migrate", "xics");
    run_until(&src, "WAIT: migrate", Duration::from_secs(30));
    let mut m = src;
    for _ in 0..3 {
        m = migrate(&m, "pseries", 2, "xics");
    }
    expect_all_passed(&finish(&m));
}

/// Everything a destination holds, except what moves by itself while it
/// is paused (timebase, decrementers, time of day): every section as JSON,
/// and a digest of guest RAM per MiB.
fn fingerprint(m: &Arc<Machine>) -> (String, Vec<u64>) {
    use std::hash::{Hash, Hasher};
    let stream = m.save_state(Vec::new()).unwrap();
    let insp = migration::inspect::inspect(stream.as_slice(), &migration::Limits::default());
    let mut text = String::new();
    for s in &insp.sections {
        let mut fields = s.fields.clone();
        if let Some(map) = fields.as_object_mut() {
            for volatile in ["timebase", "time_of_day_ns"] {
                map.remove(volatile);
            }
            if let Some(state) = map.get_mut("state").and_then(|v| v.as_object_mut()) {
                state.remove("dec");
            }
        }
        text += &format!(
            "{} {} {} {:?}\n",
            s.name, s.instance_id, fields, s.subsections
        );
    }
    let mut digests = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < m.ram().size() {
        assert!(m.ram().read(off, &mut buf));
        let mut h = std::collections::hash_map::DefaultHasher::new();
        buf.hash(&mut h);
        digests.push(h.finish());
        off += buf.len() as u64;
    }
    (text, digests)
}

#[test]
fn a_refused_stream_leaves_the_destination_untouched() {
    let src = common::machine("pseries", 2, "migrate", "");
    run_until(&src, "WAIT: migrate", Duration::from_secs(30));
    src.pause();
    let stream = src.save_state(Vec::new()).unwrap();

    // The source negotiated XIVE; an XICS-only destination has no XIVE
    // sections to put its state in. Run the destination a little first so
    // that its state is not just the reset state.
    let dst = common::machine("pseries,ic-mode=xics", 2, "migrate", "xics");
    run_until(&dst, "WAIT: migrate", Duration::from_secs(30));
    dst.pause();
    let before = fingerprint(&dst);
    let err = dst.load_state(stream.as_slice()).unwrap_err().to_string();
    assert!(err.contains("Unknown section or instance 'xive-"), "{err}");
    let after = fingerprint(&dst);
    assert_eq!(before.0, after.0);
    assert!(before.1 == after.1, "guest RAM changed");

    // A corrupted stream (one byte flipped in the middle) is refused too,
    // with nothing applied.
    let mut bad = stream.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    let same = common::machine("pseries", 2, "migrate", "");
    run_until(&same, "WAIT: migrate", Duration::from_secs(30));
    same.pause();
    let before = fingerprint(&same);
    assert!(same.load_state(bad.as_slice()).is_err());
    let after = fingerprint(&same);
    assert_eq!(before.0, after.0);

    // A different vCPU count is refused by name.
    let four = common::machine("pseries", 4, "migrate", "");
    let err = four.load_state(stream.as_slice()).unwrap_err().to_string();
    assert!(
        err.contains("vCPU count received is 2 and local is 4"),
        "{err}"
    );
    // A different machine type is refused with QEMU's words.
    let old = common::machine("pseries-7.2", 2, "migrate", "");
    let err = old.load_state(stream.as_slice()).unwrap_err().to_string();
    assert!(err.contains("Machine type received is 'pseries"), "{err}");
}
