//! Boots every guest configuration of `guests/runs.txt` (but the
//! migration ones) on this machine and compares the console transcript
//! with what QEMU 7.2 printed (`guests/expected/qemu-7.2/`), without the
//! `TIME:` lines and with the QEMU 7.2 bugs listed in
//! `guests/expected/qemu-7.2-bugs.txt` taken into account.

mod common;

use std::time::Duration;

use spapr_machine::config::{ConfigRequest, MachineConfig};
use spapr_machine::control::ExitReason;
use spapr_machine::machine::{BootConfig, Image, Machine};

struct Run {
    name: String,
    image: String,
    smp: u32,
    machine: String,
    append: String,
    migrate: bool,
    exit: i32,
}

fn guests_dir() -> String {
    format!("{}/../../guests", env!("CARGO_MANIFEST_DIR"))
}

fn runs() -> Vec<Run> {
    let text = std::fs::read_to_string(format!("{}/runs.txt", guests_dir())).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let mut r = Run {
            name: words.next().unwrap().to_string(),
            image: words.next().unwrap().to_string(),
            smp: 2,
            machine: "pseries".into(),
            append: String::new(),
            migrate: false,
            exit: 0,
        };
        for w in words {
            match w.split_once('=') {
                Some(("smp", v)) => r.smp = v.parse().unwrap(),
                Some(("machine", v)) => r.machine = v.to_string(),
                Some(("append", v)) => r.append = v.replace(',', " "),
                Some(("exit", v)) => r.exit = v.parse().unwrap(),
                None if w == "migrate" => r.migrate = true,
                _ => panic!("runs.txt: unknown word {w}"),
            }
        }
        out.push(r);
    }
    out
}

fn comparable(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with("TIME:"))
        .map(|l| l.trim_end().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// `<run>: <qemu line> => <our line>` (or `=> -` for a line we do not print).
fn known_bugs() -> Vec<(String, String, Option<String>)> {
    let path = format!("{}/expected/qemu-7.2-bugs.txt", guests_dir());
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (run, rest) = l.split_once(": ").expect("run: qemu => ours");
            let (q, o) = rest.split_once(" => ").expect("qemu => ours");
            let ours = (o.trim() != "-").then(|| o.trim().to_string());
            (run.to_string(), q.trim().to_string(), ours)
        })
        .collect()
}

fn run_one(r: &Run) -> (ExitReason, String) {
    let path = format!("{}/images/{}.elf", guests_dir(), r.image);
    let cfg = MachineConfig::new(&ConfigRequest {
        machine: vec![r.machine.clone()],
        smp: Some(r.smp.to_string()),
        console: true,
        ..Default::default()
    })
    .unwrap();
    let m = Machine::new(
        cfg,
        BootConfig {
            kernel: Some(Image {
                data: std::fs::read(&path).unwrap(),
                path,
            }),
            append: r.append.clone(),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    common::run(&m, Duration::from_secs(120))
}

#[test]
fn transcripts_match_qemu_7_2() {
    let bugs = known_bugs();
    let mut failures = Vec::new();
    for r in runs()
        .iter()
        .filter(|r| !r.migrate && !r.name.starts_with("bench"))
    {
        let expected_path = format!("{}/expected/qemu-7.2/{}.txt", guests_dir(), r.name);
        let mut expected = comparable(&std::fs::read_to_string(&expected_path).unwrap());
        for (run, q, o) in bugs.iter().filter(|b| b.0 == r.name) {
            let i = expected
                .iter()
                .position(|l| l == q)
                .unwrap_or_else(|| panic!("{run}: known-bug line not in QEMU's transcript: {q}"));
            match o {
                Some(o) => expected[i] = o.clone(),
                None => {
                    expected.remove(i);
                }
            }
        }
        let (reason, out) = run_one(r);
        let got = comparable(&out);
        let status_ok = match r.exit {
            0 => reason == ExitReason::PowerOff,
            _ => matches!(reason, ExitReason::Error(_)),
        };
        if got != expected || !status_ok {
            let mut diff = String::new();
            for i in 0..got.len().max(expected.len()) {
                let (e, g) = (expected.get(i), got.get(i));
                if e != g {
                    diff += &format!("  line {i}:\n    qemu: {e:?}\n    ours: {g:?}\n");
                }
            }
            failures.push(format!("{} (exit {reason:?}):\n{diff}", r.name));
        }
        eprintln!(
            "{}: {}",
            r.name,
            if failures.last().is_some_and(|f| f.starts_with(&r.name)) {
                "DIFFERS"
            } else {
                "same"
            }
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
