//! What the program prints and exits on: `-h`, `-version`, `-machine help`,
//! `-machine TYPE,help`, `-cpu help`, `-accel help`.
//!
//! The machine and CPU listings come from the crates that own the tables
//! (`spapr-caps`, `ppc-cpu`); the machine's own properties (those that are
//! not capabilities) are listed here with the descriptions QEMU gives them.

use spapr_caps::{cap_properties, format_property_help, CapContext, MachineType, PropertyHelp};

use crate::monitor::QEMU_VERSION;

/// The first line of `-h` and `-version`.
pub fn version_line() -> String {
    let (major, minor, micro) = QEMU_VERSION;
    format!(
        "pseries-rs version {} (compatible with QEMU emulator version {major}.{minor}.{micro} options)",
        env!("CARGO_PKG_VERSION")
    )
}

/// `-version`.
pub fn version_text() -> String {
    format!(
        "{}\nThe command line, QMP and HMP follow QEMU's qemu-system-ppc64 for the pseries machine.\n",
        version_line()
    )
}

/// `-h`.
pub fn usage(prog: &str) -> String {
    format!(
        "{version}
usage: {prog} [options]

Options and their syntax follow QEMU's qemu-system-ppc64 (QEMU 7.2) for
the pseries machine; each may be written with one dash or two.

Standard options:
-h or -help     display this help and exit
-version        display version information and exit
-machine [type=]name[,prop[=value][,...]]
                selects the pseries machine version ('-machine help' for list,
                '-machine TYPE,help' for its properties)
                ic-mode=xics|xive|dual  interrupt controller mode
                cap-NAME=value          spapr capabilities (cap-htm, cap-xive, ...)
                max-cpu-compat=powerN   maximum CPU compatibility mode
                kernel-irqchip=on|off|split  in-kernel interrupt controller (KVM)
                dumpdtb=FILE            write the device tree to FILE and exit
-M ...          same as -machine
-cpu cpu        select CPU ('-cpu help' for list)
-accel tcg|kvm[,thread=single|multi]
                select the accelerator ('-accel help' for list); tcg is this
                program's interpreter
-enable-kvm     same as -accel kvm
-smp [[cpus=]n][,maxcpus=maxcpus][,sockets=sockets][,cores=cores][,threads=threads]
                set the number of initial CPUs to 'n' and the topology
-m [size=]megs[M|G]
                configure guest RAM size (default 512M)
-rtc [base=utc|localtime|datetime][,clock=host|rt|vm][,driftfix=none|slew]
                set the RTC base (datetime: \"2006-06-17T16:01:21\" or \"2006-06-17\")
-no-reboot      exit instead of rebooting
-no-shutdown    stop before shutdown instead of exiting
-icount [shift=N|auto]
                accepted for compatibility and ignored (the timebase follows
                the host clock)

Boot options:
-bios file      firmware image loaded at guest address 0 (entered at 0x100)
-kernel file    ELF image to boot
-append cmdline pass 'cmdline' as the kernel command line (/chosen/bootargs)
-initrd file    use 'file' as initial ram disk

Display and console options:
-nographic      no display: the serial console and the monitor share stdio
                (Ctrl-A c switches between them, Ctrl-A x exits)
-display none   no display; the default serial port output is dropped
-serial dev     redirect the serial port (the vty) to char device 'dev':
                stdio, null, none, mon:stdio, chardev:ID,
                unix:PATH[,server=on|off][,wait=on|off], tcp:HOST:PORT[,...]
-nodefaults     don't create default devices (serial port, monitor)

Character devices:
-chardev socket,id=id,path=path[,server=on|off][,wait=on|off][,mux=on|off]
-chardev socket,id=id,host=host,port=port[,server=on|off][,wait=on|off][,mux=on|off]
-chardev stdio,id=id[,signal=on|off][,mux=on|off]
-chardev null,id=id

Monitors:
-monitor dev    HMP (the human monitor, '(qemu)' prompt) on char device 'dev'
                ('none' for no monitor)
-qmp dev        QMP (JSON) on char device 'dev', e.g. unix:PATH,server=on,wait=off
-mon [chardev=]name[,mode=readline|control][,pretty=on|off]
                a monitor on the -chardev with id 'name'

Migration and debugging:
-incoming uri   wait for an incoming migration: unix:PATH, tcp:HOST:PORT,
                file:PATH, or 'defer' (then QMP migrate-incoming)
-S              do not start the CPUs at start-up (use 'cont' in the monitor)

Exit status: 0 when the guest powers off (or 'quit'), 1 for a command-line
or file error, 2 or more when the virtual machine fails.
",
        version = version_line()
    )
}

/// `-accel help`.
pub fn accel_help() -> String {
    let mut s = String::from("Accelerators supported in QEMU binary:\ntcg\n");
    if kvm_possible() {
        s.push_str("kvm\n");
    }
    s
}

/// Whether KVM could run a pseries guest on this host (a POWER host).
pub fn kvm_possible() -> bool {
    cfg!(target_arch = "powerpc64")
}

/// `-cpu help`.
pub fn cpu_help() -> String {
    ppc_cpu::cpu_help()
}

/// `-machine help`.
pub fn machine_help() -> String {
    spapr_caps::machine_list_help()
}

/// The machine's properties that are not capabilities, QEMU's
/// descriptions.
fn machine_own_properties() -> Vec<PropertyHelp> {
    let p = |name: &str, ty: &str, desc: &str| PropertyHelp {
        name: name.into(),
        type_name: ty.into(),
        description: Some(desc.into()),
        default_json: None,
    };
    vec![
        p("dumpdtb", "string", "Dump current dtb to a file and quit"),
        p(
            "kernel-irqchip",
            "OnOffSplit",
            "Configure KVM in-kernel irqchip",
        ),
        p(
            "max-cpu-compat",
            "string",
            "Maximum permitted CPU compatibility mode",
        ),
        p(
            "vsmt",
            "uint32",
            "Virtual SMT: KVM behaves as if this were the host's SMT mode",
        ),
    ]
}

/// `-machine TYPE,help`: the capabilities (with their defaults for the
/// type's default CPU) and the machine's own properties.
pub fn machine_property_help(machine: &MachineType) -> String {
    let ctx = CapContext::machine_default(machine);
    let mut props = cap_properties(machine, &ctx);
    props.extend(machine_own_properties());
    format_property_help(machine, props)
}
