//! Helpers shared by the machine's integration tests.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use spapr_machine::config::{ConfigRequest, MachineConfig};
use spapr_machine::control::ExitReason;
use spapr_machine::machine::{BootConfig, Image, Machine};

// Link the controllers so that their registrations are in the registry.
use intc_xics as _;
use intc_xive as _;

/// Path of a bundled guest image.
pub fn guest(name: &str) -> String {
    format!(
        "{}/../../guests/images/{name}.elf",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A machine config from `-machine` text and `-smp`.
pub fn config(machine: &str, smp: u32) -> MachineConfig {
    MachineConfig::new(&ConfigRequest {
        machine: vec![machine.to_string()],
        smp: Some(smp.to_string()),
        console: true,
        ..Default::default()
    })
    .expect("valid config")
}

/// Builds a machine booting guest `name` with `append`.
pub fn machine(machine: &str, smp: u32, name: &str, append: &str) -> Arc<Machine> {
    let path = guest(name);
    let data = std::fs::read(&path).expect("guest image");
    Machine::new(
        config(machine, smp),
        BootConfig {
            kernel: Some(Image { path, data }),
            append: append.to_string(),
            ..Default::default()
        },
        None,
    )
    .expect("machine")
}

/// Runs until the guest powers off (or `limit` passes) and returns the
/// exit reason and the console transcript. Acts on the guests' `WAIT:`
/// lines as their harness does: a key for `WAIT: key`, a powerdown request
/// for `WAIT: powerdown`.
pub fn run(m: &Arc<Machine>, limit: Duration) -> (ExitReason, String) {
    m.start(false);
    let watchdog = {
        let m = Arc::clone(m);
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut handled = 0;
            while start.elapsed() < limit {
                std::thread::sleep(Duration::from_millis(5));
                if m.is_finished() {
                    return;
                }
                let text = String::from_utf8_lossy(&m.transcript()).into_owned();
                let waits: Vec<&str> = text.lines().filter(|l| l.starts_with("WAIT: ")).collect();
                for w in &waits[handled.min(waits.len())..] {
                    // Without a migration, `WAIT: migrate` wants just the key.
                    if w.starts_with("WAIT: key") || w.starts_with("WAIT: migrate") {
                        m.console_input(b"k");
                    } else if w.starts_with("WAIT: powerdown") {
                        m.powerdown();
                    }
                }
                handled = waits.len();
            }
            m.request_exit(ExitReason::Error("test time limit".into()));
        })
    };
    let reason = m.run_until_exit();
    let _ = watchdog.join();
    (
        reason,
        String::from_utf8_lossy(&m.transcript()).into_owned(),
    )
}

/// The CPU QEMU 7.2 used by default for machine version `version` (e.g.
/// `4.2`, `2.12-sxxm`): our newer types default to power9_v2.2 where QEMU
/// 7.2 used v2.0, which changes the PVR in trees and streams.
pub fn qemu72_cpu(version: &str) -> &'static str {
    let (maj, min) = version.split_once('.').unwrap_or((version, "0"));
    let v = (
        maj.parse::<u32>().unwrap_or(11),
        min.trim_end_matches("-sxxm").parse::<u32>().unwrap_or(0),
    );
    if v <= (2, 7) {
        "power7_v2.3"
    } else if v <= (3, 1) {
        "power8_v2.0"
    } else {
        "power9_v2.0"
    }
}
