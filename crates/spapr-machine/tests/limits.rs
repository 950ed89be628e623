//! Limits: what the machine refuses with a clear error (vCPUs, RAM,
//! interrupt sources, event queues, RTAS buffers, pending events), what a
//! guest cannot grow without bound, and that a guest flooding IPIs,
//! hcalls or H_CEDE, with devices flooding interrupts at the same time,
//! cannot starve the monitor's operations (pause, resume, `info pic`,
//! `info cpus`).

mod reliability_guest;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use reliability_guest::{self as g, hcall, rtas};
use spapr_irq::papr::{h, hcall as hc};
use spapr_irq::MsiKind;
use spapr_machine::config::{ConfigRequest, MachineConfig, MAX_CPUS, MAX_RAM};
use spapr_machine::control::ExitReason;
use spapr_machine::hcall::op;
use spapr_machine::machine::{BootConfig, Machine};

fn config(machine: &str, smp: &str, ram: &str) -> Result<MachineConfig, String> {
    MachineConfig::new(&ConfigRequest {
        machine: vec![machine.to_string()],
        smp: Some(smp.to_string()),
        ram: Some(ram.to_string()),
        ..Default::default()
    })
    .map_err(|e| e.to_string())
}

#[test]
fn vcpu_and_ram_limits_are_refused_in_qemus_words() {
    assert_eq!(MAX_CPUS, 4096);
    assert!(config("pseries-7.2", "4096", "1G").is_ok());
    assert_eq!(
        config("pseries-7.2", "4097", "1G").unwrap_err(),
        "Invalid SMP CPUs 4097. The max CPUs supported by machine 'pseries-7.2' is 4096"
    );
    assert!(config("pseries", "1,maxcpus=4096", "1G").is_ok());
    assert!(config("pseries", "1,maxcpus=4097", "1G").is_err());
    assert_eq!(
        config("pseries", "16,threads=16", "1G").unwrap_err(),
        "Cannot support more than 8 threads/core on a pseries machine"
    );
    assert!(config("pseries", "1", &format!("{}M", MAX_RAM >> 20)).is_ok());
    let e = config("pseries", "1", &format!("{}M", (MAX_RAM >> 20) + 256)).unwrap_err();
    assert!(
        e.starts_with("ram size too large: 262400 MiB is more than the 262144 MiB"),
        "{e}"
    );
    assert_eq!(
        config("pseries-2.4", "1", "63M").unwrap_err(),
        "ram size too small: at least 64 MiB are needed"
    );
    assert!(config("pseries-2.4", "1", "64M").is_ok());
    assert_eq!(
        config("pseries-7.2", "1", "300M").unwrap_err(),
        "Memory size 0x12c00000 is not aligned to 256 MiB"
    );
}

#[test]
fn the_largest_machine_builds_and_its_last_vcpu_works() {
    // 4096 vCPUs as 512 cores of 8 threads: one CPU node per core.
    for machine in ["pseries,ic-mode=xics", "pseries,ic-mode=xive"] {
        let t = Instant::now();
        let m = Machine::new(
            config(machine, "4096,threads=8", "256M").unwrap(),
            BootConfig::default(),
            None,
        )
        .unwrap();
        println!("{machine}: 4096 vCPUs built in {:?}", t.elapsed());
        assert_eq!(m.nr_vcpus(), 4096);
        // The last vCPU has a presenter and takes an IPI from the first.
        let last = 4095;
        let server = u64::from(m.config().server_of(last));
        if machine.ends_with("xics") {
            assert_eq!(hcall(&m, last, hc::H_CPPR, &[0xFF])[0], 0);
            assert_eq!(hcall(&m, 0, hc::H_IPI, &[server, 5])[0], 0);
            let r = hcall(&m, last, hc::H_XIRR, &[]);
            assert_eq!(r[1] as u32, 0xFF00_0002, "XIRR of vCPU 4095");
            // One server past the end names nobody.
            assert_eq!(
                hcall(&m, 0, hc::H_IPI, &[server + 1, 5])[0] as i64,
                h::PARAMETER
            );
        } else {
            let mut guest = g::Guest::new(&m, g::Intc::Xive);
            guest.queue_config(&m, last, 6, true);
            guest.route(&m, server as u32, last, 6);
            guest.set_cppr(&m, last, 0xFF);
            guest.ipi(&m, 0, last, 6);
            assert_eq!(guest.accept_one(&m, last), Some(server as u32));
            // A server past the end has no queue.
            let r = hcall(&m, 0, hc::H_INT_GET_QUEUE_INFO, &[0, server + 1, 6]);
            assert_eq!(r[0] as i64, h::P2);
        }
        assert!(m.call_hcall(4096, hc::H_XIRR, [0; 9]).is_none());
        assert!(m.info_pic().contains("CPU"));
    }
    // 4096 single-thread cores pass the configuration checks, but their
    // device tree (one node per core) outgrows the 2 MiB FDT area: the
    // machine refuses to build, saying so.
    let e = Machine::new(
        config("pseries", "4096", "256M").unwrap(),
        BootConfig::default(),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("device tree: device tree of "), "{e}");
    assert!(e.ends_with(" bytes does not fit"), "{e}");
}

#[test]
fn interrupt_sources_run_out_with_an_error() {
    let m = g::build("pseries", 1);
    // The dynamic MSI range holds 0xD00 numbers.
    let mut blocks = 0;
    let err = loop {
        match m.irq().msi_alloc(32, MsiKind::Msi) {
            Ok(_) => blocks += 1,
            Err(e) => break e.to_string(),
        }
    };
    assert_eq!(blocks, 0xD00 / 32, "{err}");
    assert!(!err.is_empty());
    // Numbers outside the controllers are refused by name.
    let e = m.irq().claim(0x2000, false).unwrap_err().to_string();
    assert!(e.contains("0x2000") || e.contains("8192"), "{e}");
    // A legacy machine's ICS is 0x400 sources.
    let legacy = g::build("pseries-3.0", 1);
    assert!(legacy.irq().claim(0x1400, false).is_err());
    assert!(legacy.info_pic().contains("ICS 1000..13ff"));
}

#[test]
fn event_queues_must_be_a_supported_size_inside_ram() {
    let m = g::build("pseries", 2);
    assert_eq!(g::cas(&m, true), 0);
    let set = |prio: u64, page: u64, size: u64| {
        hcall(&m, 0, hc::H_INT_SET_QUEUE_CONFIG, &[0, 0, prio, page, size])[0] as i64
    };
    // Sizes: 4K, 64K, 2M, 16M only.
    for bad in [0x0B, 0x0D, 0x0F, 0x11, 0x19, 0x20, 0x3F, 0x40, u64::MAX] {
        assert_eq!(set(6, 0x0100_0000, bad), h::P5, "qsize {bad:#x}");
    }
    for good in [12, 16, 21, 24] {
        assert_eq!(set(6, 0x0100_0000, good), h::SUCCESS, "qsize {good}");
    }
    // Naturally aligned, inside RAM, 60 address bits.
    assert_eq!(set(6, 0x0100_1000, 16), h::P4);
    assert_eq!(set(6, (256 << 20) - 0x1_0000, 21), h::P4);
    assert_eq!(set(6, 256 << 20, 16), h::P4);
    assert_eq!(set(6, 1 << 60, 12), h::P4);
    assert_eq!(set(6, !0xFFF, 12), h::P4);
    // The last 16 MiB of RAM is fine.
    assert_eq!(set(6, (256 << 20) - (16 << 20), 24), h::SUCCESS);
    // Priorities 7 and up belong to the hypervisor.
    assert_eq!(set(7, 0x0100_0000, 16), h::P3);
    assert_eq!(set(0xFF, 0x0100_0000, 16), h::P3);
}

#[test]
fn rtas_buffers_and_pending_events_are_bounded() {
    let m = g::build("pseries", 1);
    // 64 argument and return words at most, refused before any read.
    let mut buf = Vec::new();
    for w in [0x2001u32, 0, 65] {
        buf.extend_from_slice(&w.to_be_bytes());
    }
    assert!(m.ram().write(g::RTAS_BUF, &buf));
    assert_eq!(
        hcall(&m, 0, op::H_RTAS, &[g::RTAS_BUF])[0] as i64,
        h::PARAMETER
    );
    let (st, rets) = rtas(&m, 0, 0x2001, &[], 8);
    assert_eq!((st, rets[0]), (0, 0), "get-time-of-day with a valid buffer");
    // A buffer that runs off the end of RAM is refused.
    let end = (256 << 20) - 8;
    assert!(m.ram().write(end, &0x2001u32.to_be_bytes()));
    assert_eq!(hcall(&m, 0, op::H_RTAS, &[end])[0] as i64, h::PARAMETER);

    // Powerdown requests queue at most 64 events.
    for _ in 0..100 {
        m.powerdown();
    }
    let mut taken = 0;
    loop {
        let (_, r) = rtas(&m, 0, 0x200E, &[0, 0, 0xFFFF_FFFF, 0, 0x0090_0000, 2048], 1);
        if r[0] != 0 {
            assert_eq!(r[0], 1, "no more events: NO_ERRORS_FOUND");
            break;
        }
        taken += 1;
        assert!(taken <= 64);
    }
    assert_eq!(taken, 64);
}

/// The console transcript keeps only the last MiB a guest prints: a guest
/// printing in a loop (16 bytes per H_PUT_TERM_CHAR, millions of hcalls
/// per second) must not grow the host process.
#[test]
fn guest_console_output_does_not_grow_the_host_without_bound() {
    let m = g::build("pseries", 1);
    let word = u64::from_be_bytes(*b"flooding");
    for _ in 0..(4 << 20) / 16 {
        assert_eq!(
            hcall(&m, 0, op::H_PUT_TERM_CHAR, &[0, 16, word, word])[0],
            0
        );
    }
    let kept = m.transcript().len();
    assert!(kept <= 1 << 20, "{kept} bytes of guest output kept");
}

/// Runs monitor operations against a running, flooding guest and returns
/// the slowest of each (info pic, pause, info cpus, resume).
fn monitor_latencies(m: &Arc<Machine>, rounds: u32) -> [Duration; 4] {
    let mut worst = [Duration::ZERO; 4];
    for _ in 0..rounds {
        let mut t = Instant::now();
        let mut lap = |i: usize, worst: &mut [Duration; 4]| {
            let e = t.elapsed();
            worst[i] = worst[i].max(e);
            t = Instant::now();
        };
        assert!(!m.info_pic().is_empty());
        lap(0, &mut worst);
        m.pause();
        lap(1, &mut worst);
        assert!(!m.info_cpus().is_empty());
        lap(2, &mut worst);
        m.resume();
        lap(3, &mut worst);
        thread::sleep(Duration::from_millis(5));
    }
    worst
}

/// Devices hammering the interrupt inputs from host threads.
fn device_flood(m: &Arc<Machine>, stop: &Arc<AtomicBool>) -> Vec<thread::JoinHandle<u64>> {
    (0..2)
        .map(|i| {
            let (m, stop) = (Arc::clone(m), Arc::clone(stop));
            thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    m.pulse_irq(0x1200 + i);
                    m.set_irq(m.epow_irq(), n & 1 == 0);
                    n += 1;
                }
                n
            })
        })
        .collect()
}

/// Interrupts delivered so far, all controllers and vCPUs.
fn delivered(m: &Machine) -> u64 {
    m.delivered().iter().flat_map(|(_, v)| v).sum()
}

/// Runs the flood test on one guest, once it is past its start-up and
/// into its loop (`ready`): the guest's progress during the measurement
/// is the number of instructions its vCPUs executed, which must grow.
fn flood(image: &str, smp: u32, append: &str, ready: impl Fn(&Machine) -> bool) -> Arc<Machine> {
    let m = g::boot_image("pseries", smp, image, append);
    m.start(false);
    let start = Instant::now();
    while !ready(&m) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{image} never got going"
        );
        thread::sleep(Duration::from_millis(2));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let devices = device_flood(&m, &stop);
    let before = m.instructions();
    let worst = monitor_latencies(&m, 40);
    stop.store(true, Ordering::Relaxed);
    let pulses: u64 = devices.into_iter().map(|d| d.join().unwrap()).sum();
    // The vCPUs publish their count when they leave the interpreter: give
    // them a moment to do so after the last resume.
    let deadline = Instant::now() + Duration::from_secs(10);
    while m.instructions() == before && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let progress = m.instructions() - before;
    assert!(!m.is_finished(), "{image} ended before the measurement did");
    println!(
        "{image} {append}: {progress} guest instructions during the measurement, {pulses} device interrupts; slowest info pic {:?}, pause {:?}, info cpus {:?}, resume {:?}",
        worst[0],
        worst[1],
        worst[2],
        worst[3]
    );
    assert!(progress > 0, "{image}: no progress while measured");
    // Pausing waits for every vCPU to reach the end of its slice (200,000
    // instructions) or to leave an idle wait: milliseconds normally, and
    // well under two seconds even on a loaded, shared host.
    for (what, d) in ["info pic", "pause", "info cpus", "resume"]
        .iter()
        .zip(worst)
    {
        assert!(d < Duration::from_secs(2), "{image}: {what} took {d:?}");
    }
    m
}

#[test]
fn a_flooding_guest_does_not_starve_the_monitor() {
    // bench-ipi: two vCPUs ping-pong IPIs, the responder ceding between
    // them, on XIVE and on XICS. Ready once the ping-pong runs.
    for append in ["n=1000000000", "n=1000000000 xics"] {
        let m = flood("bench-ipi", 2, append, |m| delivered(m) >= 1000);
        let before = delivered(&m);
        let t = Instant::now();
        while delivered(&m) == before {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "bench-ipi {append}: no IPI after the measurement"
            );
            thread::sleep(Duration::from_millis(2));
        }
        m.request_exit(ExitReason::Quit);
        assert_eq!(m.run_until_exit(), ExitReason::Quit);
    }
    // bench-hcall: one vCPU calls H_CPPR in a loop (a million
    // instructions is well into it).
    let m = flood("bench-hcall", 1, "n=1000000000", |m| {
        m.instructions() >= 1_000_000
    });
    m.request_exit(ExitReason::Quit);
    assert_eq!(m.run_until_exit(), ExitReason::Quit);
}
