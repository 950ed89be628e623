//! Parser unit tests; the messages of the built binary are checked by
//! `tests/cli.rs`.

use super::frontends::plan;
use super::*;

fn run(args: &[&str]) -> Options {
    match parse(args.iter().copied()).unwrap() {
        Parsed::Run(o) => *o,
        other => panic!("expected Run, got {other:?}"),
    }
}

fn err(args: &[&str]) -> String {
    parse(args.iter().copied()).unwrap_err().render("pseries")
}

#[test]
fn kvm_unit_tests_command_line() {
    let o = run(&[
        "-nodefaults",
        "-accel",
        "tcg,thread=single",
        "-machine",
        "pseries,cap-htm=off",
        "-machine",
        "cap-ccf-assist=off",
        "-bios",
        "boot_rom.bin",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-kernel",
        "selftest.elf",
        "-smp",
        "8,threads=4",
        "-append",
        "setup smp=2 mem=1024",
        "-initrd",
        "/tmp/env",
        "-m",
        "1g",
        "-rtc",
        "base=2006-06-17",
        "-icount",
        "shift=5",
    ]);
    assert_eq!(o.machine.len(), 2);
    assert_eq!(o.machine[1].location(), "-machine cap-ccf-assist=off");
    assert_eq!(o.smp.as_ref().unwrap().value, "8,threads=4");
    assert_eq!(o.memory.as_ref().unwrap().value, "1g");
    assert_eq!(
        o.kernel.as_deref(),
        Some(std::path::Path::new("selftest.elf"))
    );
    assert_eq!(o.append.as_deref(), Some("setup smp=2 mem=1024"));
    assert_eq!(o.accel[0].name, "tcg");
    assert!(o.nodefaults && o.display_none);
    let p = plan(&o).unwrap();
    assert_eq!(p.chardevs.len(), 1);
    assert_eq!(p.serial, Some(0));
    assert!(p.monitors.is_empty());
}

#[test]
fn double_dash_and_immediate_help() {
    assert_eq!(parse(["--help"]).unwrap(), Parsed::Help);
    assert_eq!(parse(["-h", "-bogus"]).unwrap(), Parsed::Help);
    assert_eq!(parse(["--version"]).unwrap(), Parsed::Version);
    assert_eq!(parse(["-accel", "help"]).unwrap(), Parsed::AccelHelp);
    // An earlier error wins over a later -h, as in QEMU.
    assert_eq!(err(&["-bogus", "-h"]), "pseries: -bogus: invalid option\n");
    let o = run(&["--machine", "pseries", "--S"]);
    assert!(o.start_paused);
    assert_eq!(o.machine[0].option, "--machine");
}

#[test]
fn qemu_messages() {
    assert_eq!(err(&["-foo"]), "pseries: -foo: invalid option\n");
    assert_eq!(err(&["--foo"]), "pseries: --foo: invalid option\n");
    assert_eq!(err(&["-smp"]), "pseries: -smp: requires an argument\n");
    assert_eq!(
        err(&["-accel", "tcg,thread=foo"]),
        "pseries: -accel tcg,thread=foo: Invalid 'thread' setting foo\n"
    );
    assert_eq!(
        err(&["-accel", "tcg,bogus=1"]),
        "pseries: -accel tcg,bogus=1: Property 'tcg-accel.bogus' not found\n"
    );
    assert_eq!(
        err(&["-display", "gtk"]),
        "pseries: -display gtk: Parameter 'type' does not accept value 'gtk'\n"
    );
    assert_eq!(
        err(&["-display", "none,foo=1"]),
        "pseries: -display none,foo=1: Parameter 'foo' is unexpected\n"
    );
    assert_eq!(
        err(&["-serial", "foo"]),
        "pseries: -serial foo: 'foo' is not a valid char driver\n\
         pseries: -serial foo: could not connect serial device to character backend 'foo'\n"
    );
    assert_eq!(
        err(&["-qmp", "unix"]),
        "pseries: -qmp unix: 'unix' is not a valid char driver\npseries: -qmp unix: parse error: unix\n"
    );
    assert_eq!(
        err(&["-mon", "mode=control"]),
        "pseries: -mon mode=control: Parameter 'chardev' is missing\n"
    );
    assert_eq!(
        err(&["-mon", "chardev=a,mode=bogus"]),
        "pseries: -mon chardev=a,mode=bogus: Parameter 'mode' does not accept value 'bogus'\n"
    );
    assert_eq!(
        err(&["-rtc", "foo=1"]),
        "pseries: -rtc foo=1: Invalid parameter 'foo'\n"
    );
    assert_eq!(
        err(&["-rtc", "clock=bogus"]),
        "pseries: -rtc clock=bogus: invalid option value 'bogus'\n"
    );
    assert_eq!(
        err(&["-icount", "shift=11"]),
        "pseries: -icount shift=11: icount: Invalid shift value\n"
    );
    assert_eq!(
        err(&["-chardev", "socket,id=a,path=/x", "-chardev", "null,id=a"]),
        "pseries: -chardev null,id=a: Duplicate ID 'a' for chardev\n"
    );
    assert!(err(&["disk.img"]).starts_with("pseries: disk.img: disk images are not supported"));
}

#[test]
fn icount_forms_accepted() {
    for v in ["shift=5", "5", "shift=auto", "shift=0,sleep=off"] {
        assert!(run(&["-icount", v]).icount.is_some(), "{v}");
    }
}

#[test]
fn nographic_muxes_serial_and_monitor() {
    let p = plan(&run(&["-nographic"])).unwrap();
    assert_eq!(p.chardevs.len(), 1);
    assert!(p.chardevs[0].mux);
    assert_eq!(p.chardevs[0].backend, BackendSpec::Stdio { signal: false });
    assert_eq!(p.serial, Some(0));
    assert_eq!(p.monitors.len(), 1);
    assert_eq!(p.monitors[0].mode, MonitorMode::Readline);

    // No display at all behaves like -nographic.
    assert_eq!(plan(&run(&[])).unwrap(), p);

    // -display none: the default serial goes to an undisplayed console.
    let p = plan(&run(&["-display", "none"])).unwrap();
    assert_eq!(p.chardevs[0].backend, BackendSpec::Vc);
    assert!(p.monitors.is_empty());
}

#[test]
fn qmp_on_chardev() {
    let o = run(&[
        "-nodefaults",
        "-chardev",
        "socket,id=mon,path=/tmp/m.sock,server=on,wait=off",
        "-mon",
        "chardev=mon,mode=control",
        "-qmp",
        "unix:/tmp/q.sock,server=on,wait=off",
        "-serial",
        "stdio",
    ]);
    let p = plan(&o).unwrap();
    assert_eq!(p.chardevs.len(), 3);
    assert_eq!(p.chardevs[1].id, "compat_monitor0");
    assert_eq!(p.monitors.len(), 2);
    assert!(p.monitors.iter().all(|m| m.mode == MonitorMode::Control));
    assert_eq!(p.serial, Some(2));
}

#[test]
fn plan_errors() {
    let e = |args: &[&str]| plan(&run(args)).unwrap_err().render("pseries");
    assert_eq!(
        e(&["-nodefaults", "-monitor", "stdio", "-serial", "stdio"]),
        "pseries: -serial stdio: cannot use stdio by multiple character devices\n\
         pseries: -serial stdio: could not connect serial device to character backend 'stdio'\n"
    );
    assert_eq!(
        e(&["-nodefaults", "-mon", "chardev=nope"]),
        "pseries: -mon chardev=nope: chardev \"nope\" not found\n"
    );
    assert_eq!(
        e(&["-nodefaults", "-serial", "chardev:nope"]),
        "pseries: -serial chardev:nope: could not connect serial device to character backend 'chardev:nope'\n"
    );
    assert_eq!(
        e(&[
            "-nodefaults",
            "-chardev",
            "null,id=n",
            "-mon",
            "n",
            "-serial",
            "chardev:n"
        ]),
        "pseries: -serial chardev:n: Device 'n' is in use\n"
    );
    let p = plan(&run(&["-nodefaults", "-serial", "mon:stdio"])).unwrap();
    assert_eq!(p.monitors.len(), 1);
    assert_eq!(p.serial, Some(0));
    // The default monitor comes first, so QEMU blames the serial port...
    assert_eq!(
        e(&["-nographic", "-serial", "stdio"]),
        "pseries: -serial stdio: cannot use stdio by multiple character devices\n\
         pseries: -serial stdio: could not connect serial device to character backend 'stdio'\n"
    );
    // ...and the default serial port has no option to name.
    assert_eq!(
        e(&["-nographic", "-monitor", "stdio"]),
        "pseries: cannot use stdio by multiple character devices\n\
         pseries: could not connect serial device to character backend 'stdio'\n"
    );
    // `-serial mon:stdio` brings its monitor: no default one.
    let p = plan(&run(&["-nographic", "-serial", "mon:stdio"])).unwrap();
    assert_eq!((p.chardevs.len(), p.monitors.len()), (1, 1));
    // With QMP elsewhere, -nographic puts only the console on stdio.
    let p = plan(&run(&[
        "-nographic",
        "-qmp",
        "unix:/tmp/q.sock,server=on,wait=off",
    ]))
    .unwrap();
    assert_eq!(p.chardevs.len(), 2);
    assert_eq!(p.chardevs[1].backend, BackendSpec::Stdio { signal: true });
    assert_eq!(p.serial, Some(1));
}
