//! `pseries`: a pseries (sPAPR) virtual machine with QEMU's
//! `qemu-system-ppc64` command line.

use std::process::ExitCode;
use std::sync::OnceLock;

use pseries::exit;
use pseries::io::Frontends;
use pseries::monitor::events::{Event, Events, ShutdownCause};
use pseries::options::{self, frontends, CliError, Options, Parsed};
use pseries::{listings, request, signals};
use spapr_machine::config::MachineConfig;

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

/// The one seam between the command line and the machine: build the
/// machine from `config` and the boot files in `opts`, give it
/// `frontends.serial()` as its console and `frontends.events()` for the
/// events it causes, start the monitors with
/// `frontends.start_monitors(Arc<dyn VmControl>)`, run it, and return the
/// exit status (0 powered off or quit, 2 or more for a VM failure).
///
/// The machine's run API is not in `spapr-machine` yet, so this says so
/// and fails with a VM-level status.
fn run_machine(prog: &str, opts: &Options, config: MachineConfig, frontends: Frontends) -> u8 {
    let _ = (opts, config, frontends);
    eprintln!("{prog}: machine not available yet");
    exit::VM_FAILURE
}
