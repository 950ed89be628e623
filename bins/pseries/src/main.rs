//! `pseries`: a pseries (sPAPR) virtual machine with QEMU's
//! `qemu-system-ppc64` command line.

use std::process::ExitCode;
use std::sync::OnceLock;

use pseries::exit;
use pseries::io::Frontends;
use pseries::monitor::events::{Event, Events, ShutdownCause};
use pseries::options::{self, frontends, CliError, Options, Parsed};
use pseries::{listings, request, signals};
use std::sync::Arc;

use pseries::monitor::{RunStatus, VmControl};
use pseries::vm::Vm;
use spapr_machine::config::MachineConfig;
use spapr_machine::control::ExitReason;
use spapr_machine::machine::{BootConfig, Image, Machine, MachineError};

// The interrupt controllers register themselves as plugins; naming them
// keeps the linker from dropping them.
use intc_xics as _;
use intc_xive as _;

fn main() -> ExitCode {
    // Before any thread starts, so that every thread inherits the mask and
    // only the watcher receives these signals.
    let _ = signals::block();
    // A panic anywhere must not leave the terminal raw (the status of a
    // panicking main, 101, is a VM-level failure, never 1).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        pseries::chardev::terminal::restore();
        default_hook(info);
    }));
    let prog = exit::program_name();
    let status = run(&prog);
    exit::cleanup();
    ExitCode::from(status)
}

/// Prints a user error and gives status 1.
fn fail(prog: &str, e: &CliError) -> u8 {
    eprint!("{}", e.render(prog));
    exit::USER_ERROR
}

/// The event bus, once the front ends exist, for the signal watcher.
static EVENTS: OnceLock<Events> = OnceLock::new();

fn run(prog: &str) -> u8 {
    // Started before anything can wait (a `wait=on` socket waits for its
    // client at start-up), so that the blocked signals are always taken.
    let p = prog.to_string();
    let _ = signals::spawn_watcher(move |signo, pid| {
        eprintln!("{p}: {}", signals::message(signo, pid));
        if let Some(events) = EVENTS.get() {
            events.emit(Event::Shutdown(ShutdownCause::HostSignal));
        }
        exit::terminate(exit::POWERED_OFF);
    });
    let opts = match options::parse(std::env::args().skip(1)) {
        Ok(Parsed::Help) => {
            print!("{}", listings::usage(prog));
            return exit::POWERED_OFF;
        }
        Ok(Parsed::Version) => {
            print!("{}", listings::version_text());
            return exit::POWERED_OFF;
        }
        Ok(Parsed::AccelHelp) => {
            print!("{}", listings::accel_help());
            return exit::POWERED_OFF;
        }
        Ok(Parsed::Run(opts)) => opts,
        Err(e) => return fail(prog, &e),
    };
    match prepare(prog, &opts) {
        Ok(Prepared::Listing(text)) => {
            print!("{text}");
            exit::POWERED_OFF
        }
        Ok(Prepared::Run(config, frontends)) => {
            let _ = EVENTS.set(frontends.events());
            run_machine(prog, &opts, *config, frontends)
        }
        Err(e) => fail(prog, &e),
    }
}

enum Prepared {
    /// Print this and exit 0.
    Listing(String),
    /// Run this machine with these front ends.
    Run(Box<MachineConfig>, Frontends),
}

/// Everything that can fail with a user error, in QEMU's order: option
/// syntax, listings, chardev plan, accelerator, machine configuration,
/// `-incoming`, files, then the chardevs are opened.
fn prepare(prog: &str, opts: &Options) -> Result<Prepared, CliError> {
    if let Some(text) = request::listing(opts)? {
        return Ok(Prepared::Listing(text));
    }
    let plan = frontends::plan(opts)?;
    let (accel, warnings) = request::choose_accel(opts)?;
    for w in warnings {
        eprintln!("{prog}: {w}");
    }
    let req = request::config_request(opts, &plan, accel)?;
    let config = request::machine_config(&req)?;
    request::check_incoming(opts)?;
    request::check_files(opts)?;
    let frontends = Frontends::open(&plan, prog)?;
    Ok(Prepared::Run(Box::new(config), frontends))
}

/// Reads a boot image named on the command line (QEMU's messages).
fn image(path: &std::path::Path, err: impl Fn(String) -> String) -> Result<Image, String> {
    let shown = path.display().to_string();
    std::fs::read(path)
        .map(|data| Image {
            path: shown.clone(),
            data,
        })
        .map_err(|_| err(shown))
}

/// The one seam between the command line and the machine: builds the
/// machine from `config` and the boot files in `opts`, connects the
/// console and the monitors, runs it, and returns the exit status (0
/// powered off or quit, 1 for a user error, 2 or more for a VM failure).
fn run_machine(prog: &str, opts: &Options, config: MachineConfig, mut frontends: Frontends) -> u8 {
    pseries::log::init(prog);
    let boot = || -> Result<BootConfig, String> {
        Ok(BootConfig {
            firmware: opts
                .bios
                .as_deref()
                .map(|p| image(p, |s| format!("could not load firmware '{s}'")))
                .transpose()?,
            kernel: opts
                .kernel
                .as_deref()
                .map(|p| image(p, |s| format!("could not load kernel '{s}'")))
                .transpose()?,
            initrd: opts
                .initrd
                .as_deref()
                .map(|p| image(p, |s| format!("could not load initial ram disk '{s}'")))
                .transpose()?,
            append: opts.append.clone().unwrap_or_default(),
        })
    };
    let boot = match boot() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{prog}: {e}");
            return exit::USER_ERROR;
        }
    };
    let dumpdtb = config.dumpdtb.clone();
    let serial = frontends.serial();
    let console: Option<Box<dyn std::io::Write + Send>> = serial
        .clone()
        .map(|s| Box::new(pseries::console::SerialWriter(s)) as _);
    let machine = match Machine::new(config, boot, console) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{prog}: {e}");
            // Image and configuration problems are the user's; anything
            // else is the VM's.
            return match e {
                MachineError::Load(_) | MachineError::Caps(_) | MachineError::Irqchip(_) => {
                    exit::USER_ERROR
                }
                _ => exit::VM_FAILURE,
            };
        }
    };
    if let Some(path) = dumpdtb {
        return match std::fs::write(&path, machine.fdt()) {
            Ok(()) => {
                eprintln!("{prog}: info: dtb dumped to {path}. Exiting.");
                exit::POWERED_OFF
            }
            Err(e) => {
                eprintln!("{prog}: Failed to write dtb to '{path}': {e}");
                exit::USER_ERROR
            }
        };
    }
    machine.set_no_reboot(opts.no_reboot);
    let incoming = opts.incoming.as_ref().map(|i| i.value.clone());
    let deferred = incoming.as_deref() == Some("defer");
    let status = if incoming.is_some() {
        RunStatus::InMigrate
    } else if opts.start_paused {
        RunStatus::Prelaunch
    } else {
        RunStatus::Running
    };
    let vm = Vm::new(
        Arc::clone(&machine),
        serial,
        frontends.events(),
        status,
        opts.no_reboot,
        !opts.start_paused,
        deferred,
    );
    machine.start(status != RunStatus::Running);
    if let Err(e) = frontends.start_monitors(Arc::clone(&vm) as Arc<dyn VmControl>) {
        eprint!("{}", e.render(prog));
        machine.request_exit(ExitReason::Quit);
        machine.run_until_exit();
        return exit::USER_ERROR;
    }
    if let Some(uri) = incoming.filter(|u| u != "defer") {
        let vm = Arc::clone(&vm);
        let _ = std::thread::Builder::new()
            .name("incoming".into())
            .spawn(move || vm.run_incoming(&uri));
    }
    let reason = machine.run_until_exit();
    // A monitor command that ended the machine still gets its reply.
    pseries::monitor::session::wait_for_replies(std::time::Duration::from_secs(1));
    vm.finished(&reason);
    // `cargo xtask run` asks for a short summary of the run.
    if std::env::var_os("PSERIES_SUMMARY").is_some() {
        eprint!("{}", machine.delivery_summary());
    }
    match &reason {
        ExitReason::Error(msg) => {
            eprintln!("{prog}: {msg}");
            exit::VM_FAILURE
        }
        ExitReason::GuestPanic => 3,
        _ => exit::POWERED_OFF,
    }
}
