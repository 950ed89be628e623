//! The machine's device trees: dtc validates every one, and each reset-time
//! tree equals, node by node, what QEMU 7.2 dumped for the same machine
//! (`tests/data/qemu-7.2/*.dts`, `-smp 4 -nodefaults`).

mod common;

use fdt::{diff, DiffOptions, Dtc, Fdt};
use spapr_machine::config::{ConfigRequest, MachineConfig};
use spapr_machine::machine::{BootConfig, Machine};

/// RTAS calls QEMU registers that this machine does not implement (hot
/// plug connectors, EEH, DMA windows, FWNMI, suspend).
const UNIMPLEMENTED_RTAS: &[&str] = &[
    "ibm,nmi-interlock",
    "ibm,nmi-register",
    "ibm,suspend-me",
    "ibm,reset-pe-dma-window",
    "ibm,remove-pe-dma-window",
    "ibm,create-pe-dma-window",
    "ibm,query-pe-dma-window",
    "ibm,slot-error-detail",
    "ibm,configure-pe",
    "ibm,set-slot-reset",
    "ibm,read-slot-reset-state2",
    "ibm,get-config-addr-info2",
    "ibm,set-eeh-option",
    "ibm,configure-connector",
    "get-sensor-state",
    "get-power-level",
    "set-power-level",
    "set-indicator",
    "quiesce",
    "ibm,set-tce-bypass",
    "ibm,set-system-parameter",
    "ibm,change-msix-capable",
];

fn options() -> DiffOptions {
    let mut o = DiffOptions::new()
        .ignore_property("rng-seed")
        // Dynamic reconfiguration connectors: no hot plug here.
        .ignore_property("ibm,drc-types")
        .ignore_property("ibm,drc-names")
        .ignore_property("ibm,drc-power-domains")
        .ignore_property("ibm,drc-indexes")
        .ignore_property("ibm,my-drc-index")
        // Graphics console hints: no VGA here.
        .ignore_property_at("/chosen", "qemu,graphic-width")
        .ignore_property_at("/chosen", "qemu,graphic-height")
        .ignore_property_at("/chosen", "qemu,graphic-depth")
        // DMA windows of the PHB are not modelled.
        .ignore_property_at("/pci@800000020000000", "ibm,dma-window")
        .ignore_property_at("/pci@800000020000000", "ibm,#dma-size-cells")
        .ignore_property_at("/pci@800000020000000", "ibm,#dma-address-cells")
        .ignore_property_at("/pci@800000020000000", "ibm,ddw-extensions")
        .ignore_property_at("/pci@800000020000000", "ibm,ddw-applicable")
        .ignore_header();
    for name in UNIMPLEMENTED_RTAS {
        o = o.ignore_property_at("/rtas", name);
    }
    o
}

fn machine_for(file: &str) -> Machine {
    // pseries-<version>-<mode>-<what>.dts
    let stem = file.trim_end_matches(".dts").trim_start_matches("pseries-");
    let parts: Vec<&str> = stem.split('-').collect();
    let (version, rest) = if parts[1] == "sxxm" {
        (format!("{}-sxxm", parts[0]), &parts[2..])
    } else {
        (parts[0].to_string(), &parts[1..])
    };
    let mut machine = format!("pseries-{version}");
    if rest[0] != "default" {
        machine += &format!(",ic-mode={}", rest[0]);
    }
    let cpu = if rest[1] == "power8" {
        "POWER8".to_string()
    } else {
        common::qemu72_cpu(&version).to_string()
    };
    let cfg = MachineConfig::new(&ConfigRequest {
        machine: vec![machine],
        cpu: Some(cpu),
        smp: Some("4".into()),
        console: false,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{file}: {e}"));
    let m =
        Machine::new(cfg, BootConfig::default(), None).unwrap_or_else(|e| panic!("{file}: {e}"));
    std::sync::Arc::try_unwrap(m).expect("not started")
}

#[test]
fn reset_trees_match_qemu_7_2_and_pass_dtc() {
    let Some(dtc) = Dtc::for_tests() else { return };
    let dir = format!("{}/tests/data/qemu-7.2", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".dts"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "reference trees missing");
    let mut failures = Vec::new();
    for file in &files {
        let m = machine_for(file);
        let blob = m.fdt();
        // QEMU's own trees draw this warning from dtc too (no
        // #address-cells on interrupt providers).
        if let Err(e) = dtc.validate(&blob, &["interrupt_provider"]) {
            failures.push(format!("{file}: dtc: {e}"));
        }
        let ours = Fdt::from_dtb(&blob).unwrap();
        let theirs = dtc
            .load_dts(&std::fs::read_to_string(format!("{dir}/{file}")).unwrap())
            .unwrap();
        let d = diff(&theirs, &ours, &options());
        if !d.is_empty() {
            // One line per difference: long values make the full report
            // unreadable.
            let text = d.to_string();
            let short: Vec<&str> = text
                .lines()
                .filter(|l| std::env::var("DT_FULL").is_ok() || !l.starts_with("    "))
                .collect();
            failures.push(format!("{file}:\n{}", short.join("\n")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} trees differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
