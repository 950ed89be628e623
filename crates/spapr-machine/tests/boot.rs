//! Boots the bundled guests on the machine.

mod common;

use std::time::Duration;

use spapr_machine::control::ExitReason;

#[test]
fn demo_boots_and_powers_off() {
    let m = common::machine("pseries", 2, "demo", "timeout=1");
    let (reason, out) = common::run(&m, Duration::from_secs(60));
    println!("{out}");
    assert_eq!(reason, ExitReason::PowerOff, "{out}");
    assert!(out.contains("EXIT: STATUS="), "{out}");
}
