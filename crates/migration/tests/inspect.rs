//! Inspecting streams as text and JSON.

mod common;

use common::*;
use migration::{inspect, BulkDecl, Limits, StreamWriter};

fn stream() -> Vec<u8> {
    let src = Setup::new("xics", 2, 4);
    src.scramble(1);
    src.machine
        .state
        .lock()
        .unwrap()
        .caps
        .insert("htm".into(), 1);
    let mut w = StreamWriter::new(Vec::new(), &src.header()).unwrap();
    for c in src.components() {
        w.save(c.as_ref()).unwrap();
    }
    w.begin_bulk(&[BulkDecl {
        name: "ram".into(),
        instance_id: 0,
        version_id: 1,
        len: 3 * 4096,
    }])
    .unwrap();
    let mut ram = vec![0u8; 3 * 4096];
    ram[4096] = 1;
    w.bulk_pages(&ram, 4096).unwrap();
    w.finish().unwrap()
}

#[test]
fn json_shows_header_sections_fields_subsections_and_bulk() {
    let s = stream();
    let shown = inspect::inspect(&s[..], &Limits::default());
    assert!(shown.is_valid(), "{:?}", shown.error);
    let j = shown.to_json();
    assert_eq!(j["format"], "1.0");
    assert_eq!(j["stream_len"], s.len());
    assert_eq!(j["header"]["machine_type"], "pseries-7.2");
    assert_eq!(j["header"]["caps"]["cfpc"], 1);
    assert_eq!(j["sections"][1]["name"], "icp/server");
    assert_eq!(j["sections"][1]["fields"]["xirr"], 0x0500_0001);
    assert_eq!(j["sections"][2]["instance_id"], 1);
    let spapr = &j["sections"][3];
    assert_eq!(spapr["fields"]["tb"]["time_of_the_day_ns"], -42);
    let subs: Vec<&str> = spapr["subsections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["spapr/cap/cfpc", "spapr/cap/htm"]);
    assert_eq!(spapr["subsections"][1]["fields"], 1);
    assert_eq!(j["bulk"][0]["len"], 3 * 4096);
    assert_eq!(j["bulk"][0]["data_bytes"], 4096);
    assert_eq!(j["bulk"][0]["zero_bytes"], 2 * 4096);
    assert_eq!(j["bulk"][0]["zero_records"], 2);
    assert_eq!(j["valid"], true);
    assert!(j["end"]["crc32"].as_str().unwrap().starts_with("0x"));
}

#[test]
fn text_is_readable_and_cut_unless_full() {
    let s = stream();
    let shown = inspect::inspect(&s[..], &Limits::default());
    let t = shown.to_text(false);
    assert!(
        t.starts_with("pseries-rs migration stream, format 1.0, "),
        "{t}"
    );
    assert!(
        t.contains("  machine type  pseries-7.2 (version 7.2)\n"),
        "{t}"
    );
    assert!(
        t.contains("  caps          cfpc=1 htm=0 large_decr=1\n"),
        "{t}"
    );
    assert!(t.contains("  'icp/server' instance 1 version 1 ("), "{t}");
    assert!(
        t.contains("    subsection 'spapr/cap/htm' version 1 1\n"),
        "{t}"
    );
    assert!(t.contains("  'ram' instance 0 version 1: 12288 bytes (1 data records, 4096 bytes; 2 zero records, 8192 bytes)"), "{t}");
    assert!(t.contains("more characters)"), "the ICS dump is cut: {t}");
    assert!(t.ends_with(": valid\n"), "{t}");
    assert!(!shown.to_text(true).contains("more characters)"));
}

#[test]
fn broken_streams_are_shown_up_to_the_problem() {
    let mut s = stream();
    let n = s.len();
    s.truncate(n - 20);
    let shown = inspect::inspect(&s[..], &Limits::default());
    assert!(!shown.is_valid());
    assert_eq!(shown.sections.len(), 4);
    assert!(shown
        .error
        .as_deref()
        .unwrap()
        .starts_with("migration stream truncated"));
    assert!(shown
        .to_text(false)
        .contains("\nerror: migration stream truncated"));
    let j = shown.to_json();
    assert_eq!(j["valid"], false);
    let junk = inspect::inspect(&b"QEVM\0\0\0\x03 and more"[..], &Limits::default());
    assert!(junk.header.is_none());
    assert!(junk.error.unwrap().starts_with("Not a migration stream"));
}

#[test]
fn the_cli_inspects_a_file() {
    let dir = TempDir::new("inspect");
    let path = dir.join("s.bin");
    std::fs::write(&path, stream()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_migstream"))
        .args(["inspect", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["sections"][0]["name"], "ics");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_migstream"))
        .args(["inspect", "exec:cat"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("migstream: migration protocol 'exec' is not supported"));
}
