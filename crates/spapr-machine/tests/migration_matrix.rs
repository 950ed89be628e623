//! Every (source type, ic-mode, caps, vCPUs, CPU) -> destination pair that
//! QEMU 7.2 was run with (`tests/data/qemu-7.2-migration-matrix.json`,
//! machines stopped right after reset), plus every pair of ic-modes on
//! every machine version that has both controllers: the outcome must be
//! QEMU's, except where this machine decides otherwise on purpose (listed
//! in `expected_difference`).

mod common;

use std::sync::Arc;

use serde_json::Value;
use spapr_machine::config::{ConfigRequest, MachineConfig};
use spapr_machine::machine::{BootConfig, Machine};

fn build(spec: &Value) -> Result<Arc<Machine>, String> {
    let mut machine = spec["machine"].as_str().unwrap().to_string();
    let version = machine.trim_start_matches("pseries-").to_string();
    if let Some(ic) = spec["ic"]
        .as_str()
        .filter(|s| !s.is_empty() && *s != "default")
    {
        machine += &format!(",ic-mode={ic}");
    }
    if let Some(caps) = spec["caps"].as_object() {
        for (k, v) in caps {
            machine += &format!(",{k}={}", v.as_str().unwrap());
        }
    }
    let extra: Vec<&str> = spec["extra"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let cpu = match extra.iter().position(|&a| a == "-cpu") {
        Some(i) => extra[i + 1].to_string(),
        None => common::qemu72_cpu(&version).to_string(),
    };
    let cfg = MachineConfig::new(&ConfigRequest {
        machine: vec![machine],
        cpu: Some(cpu),
        smp: Some(spec["smp"].as_u64().unwrap_or(2).to_string()),
        ram: Some("256M".into()),
        console: false,
        ..Default::default()
    })
    .map_err(|e| e.to_string())?;
    Machine::new(cfg, BootConfig::default(), None).map_err(|e| e.to_string())
}

/// Where this machine's answer differs from QEMU 7.2's on purpose.
fn expected_difference(row: &Value) -> Option<&'static str> {
    let (s, d) = (&row["src"], &row["dst"]);
    if s["smp"] != d["smp"] {
        return Some("a changed vCPU count is refused by name (QEMU accepts more vCPUs with XICS)");
    }
    if d["machine"] == "pseries" {
        return Some("`pseries` is pseries-11.0 here, pseries-7.2 in QEMU 7.2");
    }
    if s["extra"] != d["extra"] {
        return Some("a changed CPU model is refused by name before any section is read");
    }
    None
}

fn outcome(src: &Value, dst: &Value) -> Result<(), String> {
    let t = std::time::Instant::now();
    let s = build(src)?;
    let t1 = t.elapsed();
    let stream = s.save_state(Vec::new()).map_err(|e| e.to_string())?;
    let t2 = t.elapsed();
    let d = build(dst)?;
    let t3 = t.elapsed();
    let r = d
        .load_state(stream.as_slice())
        .map(|_| ())
        .map_err(|e| e.to_string());
    if std::env::var("MATRIX_TIMES").is_ok() {
        eprintln!(
            "build {t1:?} save {:?} build {:?} load {:?}",
            t2 - t1,
            t3 - t2,
            t.elapsed() - t3
        );
    }
    r
}

/// The key part of QEMU's error that ours must contain too.
fn key(error: &str) -> String {
    if let Some(rest) = error.strip_prefix("Unknown savevm section or instance ") {
        // 'ics' 0 [...] -> Unknown section or instance 'ics' 0
        let name = rest.split(" [").next().unwrap();
        return format!("Unknown section or instance {name}");
    }
    error.split(" / ").next().unwrap().to_string()
}

#[test]
fn qemu_7_2_rows() {
    let path = format!(
        "{}/tests/data/qemu-7.2-migration-matrix.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut table =
        String::from("| group | source | destination | QEMU 7.2 | ours |\n|---|---|---|---|---|\n");
    let mut mismatches = Vec::new();
    for row in data["unbooted"].as_array().unwrap() {
        let ours = outcome(&row["src"], &row["dst"]);
        let qemu_ok = row["result"] == "ok";
        let label = |v: &Value| {
            format!(
                "{} {} smp {} {:?}",
                v["machine"], v["ic"], v["smp"], v["caps"]
            )
        };
        let ours_text = match &ours {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("FAIL: {}", e.lines().next().unwrap_or("")),
        };
        table += &format!(
            "| {} | {} | {} | {} | {} |\n",
            row["group"],
            label(&row["src"]),
            label(&row["dst"]),
            row["result"],
            ours_text
        );
        let agrees = match (&ours, qemu_ok) {
            (Ok(()), true) => true,
            (Err(e), false) => {
                let k = key(row["error"].as_str().unwrap());
                e.contains(&k)
                    || k.starts_with("Missing section footer")
                    || k.starts_with("error while loading state for instance 0x0 of device 'cpu'")
            }
            _ => false,
        };
        if !agrees && expected_difference(row).is_none() {
            mismatches.push(format!("{row}\n  ours: {ours_text}"));
        }
    }
    println!("{table}");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// The xics/xive/dual table of issue 2 on every version with both
/// controllers, machines stopped after reset. Each source is saved once and
/// each destination built once per version: a refused load changes
/// nothing, an accepted one replaces everything.
#[test]
fn ic_mode_pairs_on_every_version() {
    let versions = [
        "3.1", "4.0", "4.1", "4.2", "5.0", "5.1", "5.2", "6.0", "6.1", "6.2", "7.0", "7.1", "7.2",
        "8.0", "8.1", "8.2", "9.0", "9.1", "9.2", "10.0", "10.1", "10.2", "11.0",
    ];
    let modes = ["xics", "xive", "dual"];
    let expected = |s: &str, d: &str| s == d || d == "dual" && s != "dual";
    let mut table =
        String::from("| version | source | xics | xive | dual |\n|---|---|---|---|---|\n");
    let mut wrong = Vec::new();
    for v in versions {
        let spec = |ic: &str| serde_json::json!({"machine": format!("pseries-{v}"), "ic": ic, "caps": {}, "smp": 2, "extra": ["-cpu", "power9_v2.0"]});
        let streams: Vec<Vec<u8>> = modes
            .iter()
            .map(|m| build(&spec(m)).unwrap().save_state(Vec::new()).unwrap())
            .collect();
        let dests: Vec<_> = modes.iter().map(|m| build(&spec(m)).unwrap()).collect();
        for (si, s) in modes.iter().enumerate() {
            let mut cells = Vec::new();
            for (di, d) in modes.iter().enumerate() {
                let r = dests[di].load_state(streams[si].as_slice());
                cells.push(if r.is_ok() { "ok" } else { "refused" });
                if r.is_ok() != expected(s, d) {
                    wrong.push(format!(
                        "pseries-{v}: {s} -> {d}: {:?}",
                        r.err().map(|e| e.to_string())
                    ));
                }
            }
            table += &format!("| {v} | {s} | {} |\n", cells.join(" | "));
        }
    }
    println!("{table}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
