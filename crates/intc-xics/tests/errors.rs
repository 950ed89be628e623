//! Every RTAS status code and hypercall error of the XICS controller, and
//! what it answers while not the active controller.

mod common;

use common::{
    capture_logs, Harness, RTAS_IBM_GET_XIVE, RTAS_IBM_INT_OFF, RTAS_IBM_INT_ON, RTAS_IBM_SET_XIVE,
};
use spapr_irq::papr::{h, hcall};

const MSI: u32 = 0x1300;

fn booted() -> Harness {
    let t = Harness::new(2);
    t.c.claim_irq(MSI, false).unwrap();
    for cpu in 0..2 {
        assert_eq!(t.cppr(cpu, 0xFF), h::SUCCESS);
    }
    t
}

#[test]
fn rtas_success_is_status_0_with_the_results() {
    let t = booted();
    assert_eq!(t.rtas(RTAS_IBM_SET_XIVE, &[MSI, 1, 6], 1), [0]);
    assert_eq!(t.rtas(RTAS_IBM_GET_XIVE, &[MSI], 3), [0, 1, 6]);
    assert_eq!(t.rtas(RTAS_IBM_INT_OFF, &[MSI], 1), [0]);
    assert_eq!(t.rtas(RTAS_IBM_GET_XIVE, &[MSI], 3), [0, 1, 0xFF]);
    assert_eq!(t.rtas(RTAS_IBM_INT_ON, &[MSI], 1), [0]);
    assert_eq!(t.rtas(RTAS_IBM_GET_XIVE, &[MSI], 3), [0, 1, 6]);
    // Priority 0xFF is a valid set-xive priority (it masks).
    assert_eq!(t.rtas(RTAS_IBM_SET_XIVE, &[MSI, 0, 0xFF], 1), [0]);
}

#[test]
fn rtas_parameter_error_minus_3_for_each_bad_argument() {
    let t = booted();
    let before = t.info_pic();
    // Wrong nargs / nret, for each call.
    for (token, good_nargs, good_nret) in [
        (RTAS_IBM_SET_XIVE, 3usize, 1usize),
        (RTAS_IBM_GET_XIVE, 1, 3),
        (RTAS_IBM_INT_OFF, 1, 1),
        (RTAS_IBM_INT_ON, 1, 1),
    ] {
        let args = [MSI, 0, 5, 0];
        assert_eq!(t.rtas(token, &args[..good_nargs + 1], good_nret)[0], -3);
        assert_eq!(t.rtas(token, &args[..good_nargs - 1], good_nret)[0], -3);
        assert_eq!(t.rtas(token, &args[..good_nargs], good_nret + 1)[0], -3);
        if good_nret > 1 {
            assert_eq!(t.rtas(token, &args[..good_nargs], good_nret - 1)[0], -3);
        }
        // Numbers outside the ICS.
        for irq in [0, 2, 0xFFF, 0x2000, u32::MAX] {
            let mut args = vec![irq, 0, 5];
            args.truncate(good_nargs);
            assert_eq!(t.rtas(token, &args, good_nret)[0], -3, "irq {irq:#x}");
        }
    }
    // set-xive: server without a presenter, priority above 0xFF.
    assert_eq!(t.rtas(RTAS_IBM_SET_XIVE, &[MSI, 2, 5], 1), [-3]);
    assert_eq!(t.rtas(RTAS_IBM_SET_XIVE, &[MSI, u32::MAX, 5], 1), [-3]);
    assert_eq!(t.rtas(RTAS_IBM_SET_XIVE, &[MSI, 0, 0x100], 1), [-3]);
    assert_eq!(t.rtas(RTAS_IBM_SET_XIVE, &[MSI, 0, u32::MAX], 1), [-3]);
    // An unknown token routed here.
    assert_eq!(t.rtas(0x2001, &[MSI], 1), [-3]);
    assert_eq!(before, t.info_pic(), "refused calls change nothing");
}

#[test]
fn rtas_with_no_return_word_does_nothing_and_does_not_panic() {
    let t = booted();
    let mut rets = [];
    t.c.rtas(t.caller(0), RTAS_IBM_SET_XIVE, &[MSI, 0, 5], &mut rets);
    assert_eq!(t.get_xive(MSI), (0, 0xFF));
}

#[test]
fn rtas_hardware_error_minus_1_and_qemu_log_when_not_active() {
    let t = booted();
    assert_eq!(t.set_xive(MSI, 0, 5), 0);
    t.c.deactivate();
    assert!(!t.c.is_active());
    let cases = [
        (RTAS_IBM_SET_XIVE, vec![MSI, 1, 4], 1, "rtas_set_xive"),
        (RTAS_IBM_GET_XIVE, vec![MSI], 3, "rtas_get_xive"),
        (RTAS_IBM_INT_OFF, vec![MSI], 1, "rtas_int_off"),
        (RTAS_IBM_INT_ON, vec![MSI], 1, "rtas_int_on"),
        // The active check comes before the nargs check, as in QEMU.
        (RTAS_IBM_SET_XIVE, vec![MSI], 1, "rtas_set_xive"),
    ];
    for (token, args, nret, func) in cases {
        let (rets, log) = capture_logs(|| t.rtas(token, &args, nret));
        assert_eq!(rets[0], -1, "{func}");
        assert!(
            log.contains(&format!(
                "pseries: {func} must only be called for emulated XICS"
            )),
            "{func}: {log}"
        );
    }
    t.c.activate(2).unwrap();
    assert_eq!(
        t.get_xive(MSI),
        (0, 5),
        "nothing was applied while inactive"
    );
}

#[test]
fn hcalls_answer_h_hardware_and_log_when_not_active() {
    let t = booted();
    t.c.deactivate();
    let cases: [(u64, &[u64], &str); 6] = [
        (hcall::H_EOI, &[0xFF00_0000 | MSI as u64], "h_eoi"),
        (hcall::H_CPPR, &[0], "h_cppr"),
        (hcall::H_IPI, &[1, 4], "h_ipi"),
        (hcall::H_IPOLL, &[0], "h_ipoll"),
        (hcall::H_XIRR, &[], "h_xirr"),
        (hcall::H_XIRR_X, &[], "h_xirr_x"),
    ];
    for (opcode, args, func) in cases {
        let (r, log) = capture_logs(|| t.hcall(0, opcode, args));
        assert_eq!(r.ret, h::HARDWARE, "{func}");
        assert_eq!(r.nout, 0);
        assert!(
            log.contains(&format!(
                "pseries: {func} must only be called for emulated XICS"
            )),
            "{func}: {log}"
        );
    }
    // An unknown server is not even looked at before the active check.
    assert_eq!(t.ipi(0, 99, 4), h::HARDWARE);
    t.c.activate(2).unwrap();
    assert_eq!(t.ipoll(0), (0xFF00_0000, 0xFF), "CPPR untouched");
    assert_eq!(t.ipoll(1), (0xFF00_0000, 0xFF), "no IPI was sent");
}

#[test]
fn h_xirr_accepts_before_the_active_check_as_qemu_does() {
    let t = booted();
    assert_eq!(t.set_xive(MSI, 0, 5), 0);
    t.c.set_irq(MSI, true);
    assert!(t.raised(0));
    t.c.deactivate();
    let r = t.hcall(0, hcall::H_XIRR, &[]);
    assert_eq!(r.ret, h::HARDWARE);
    t.c.activate(2).unwrap();
    assert!(
        !t.raised(0),
        "accepted all the same: nothing to raise again"
    );
    assert_eq!(t.ipoll(0), (0x0500_0000, 0xFF), "CPPR moved to priority 5");
}

#[test]
fn h_parameter_for_unknown_servers_and_unknown_eoi_sources() {
    let t = booted();
    assert_eq!(t.ipi(0, 2, 4), h::PARAMETER);
    assert_eq!(
        t.ipi(0, 1 << 32, 4),
        h::PARAMETER,
        "no truncation to server 0"
    );
    assert_eq!(t.hcall(0, hcall::H_IPOLL, &[7]).ret, h::PARAMETER);
    assert_eq!(t.eoi(0, 0xFF00_2000), h::PARAMETER);
    assert_eq!(t.eoi(0, 0xFF00_0002), h::SUCCESS);
    assert_eq!(t.eoi(0, 0xFF00_0000 | MSI), h::SUCCESS);
}

#[test]
fn unknown_opcode_is_h_function_and_missing_args_read_as_zero() {
    let t = booted();
    assert_eq!(t.hcall(0, 0x78, &[]).ret, h::FUNCTION);
    assert_eq!(t.hcall(0, hcall::H_INT_ESB, &[]).ret, h::FUNCTION);
    // H_IPI with no arguments: server 0, MFRR 0 (a priority-0 IPI).
    assert_eq!(t.hcall(1, hcall::H_IPI, &[]).ret, h::SUCCESS);
    assert_eq!(t.ipoll(0), (0xFF00_0002, 0));
    // H_CPPR with no argument: CPPR 0 rejects the pending IPI.
    assert_eq!(t.hcall(0, hcall::H_CPPR, &[]).ret, h::SUCCESS);
    assert_eq!(t.ipoll(0), (0, 0));
    // Upper bits of CPPR / MFRR / XIRR arguments are ignored (u8 / u32).
    assert_eq!(t.hcall(0, hcall::H_CPPR, &[0x1234_56FF]).ret, h::SUCCESS);
    assert_eq!(t.ipoll(0), (0xFF00_0002, 0), "the IPI comes back at once");
    assert_eq!(t.hcall(1, hcall::H_IPI, &[0, 0x7FF]).ret, h::SUCCESS);
    assert_eq!(t.ipoll(0).1, 0xFF);
}

#[test]
fn a_caller_without_a_presenter_gets_h_hardware_not_a_panic() {
    let t = booted();
    for opcode in [hcall::H_XIRR, hcall::H_XIRR_X, hcall::H_EOI, hcall::H_CPPR] {
        assert_eq!(t.hcall(7, opcode, &[0]).ret, h::HARDWARE);
        assert_eq!(t.hcall(u32::MAX, opcode, &[0]).ret, h::HARDWARE);
    }
}

#[test]
fn the_controller_lists_its_hcalls_and_rtas_tokens() {
    let t = booted();
    let mut ops = t.c.hcall_opcodes().to_vec();
    ops.sort();
    assert_eq!(ops, [0x64, 0x68, 0x6C, 0x70, 0x74, 0x2FC]);
    let rtas: Vec<_> = t.c.rtas_calls().iter().map(|r| (r.name, r.token)).collect();
    assert_eq!(
        rtas,
        [
            ("ibm,set-xive", 0x200A),
            ("ibm,get-xive", 0x200B),
            ("ibm,int-off", 0x200C),
            ("ibm,int-on", 0x200D)
        ]
    );
    assert!(t.c.mmio_regions().is_empty());
}

#[test]
fn presenter_and_claim_errors() {
    let t = Harness::with(0x1000, 4, 2);
    let line = spapr_irq::IrqLine::detached();
    let desc = |index, server| spapr_irq::VcpuDesc {
        index,
        server,
        pir: index,
        line: line.clone(),
    };
    assert_eq!(
        t.c.cpu_intc_create(&desc(0, 3)).unwrap_err().to_string(),
        "vCPU 0 already has an interrupt presenter"
    );
    assert!(t.c.cpu_intc_create(&desc(2, 1)).is_err(), "server 1 taken");
    assert!(
        t.c.cpu_intc_create(&desc(2, 4)).is_err(),
        "server out of range"
    );
    assert!(
        t.c.cpu_intc_create(&desc(9, 2)).is_err(),
        "index out of range"
    );
    t.c.cpu_intc_create(&desc(2, 3)).unwrap();
    t.c.cpu_intc_destroy(2);
    t.c.cpu_intc_destroy(2); // twice: logged, no panic
    t.c.cpu_intc_reset(2);
    assert_eq!(
        t.c.claim_irq(0x2000, false).unwrap_err(),
        spapr_irq::IrqError::OutOfRange {
            irq: 0x2000,
            first: 0x1000,
            end: 0x2000
        }
    );
}

#[test]
fn factory_refuses_an_empty_ics_in_qemu_words() {
    let backend = spapr_irq::backend("xics").unwrap();
    let err = (backend.factory)(&common::config(0, 2)).err().unwrap();
    assert_eq!(
        err.to_string(),
        "Number of interrupts needs to be greater 0"
    );
    assert!((backend.factory)(&common::config(0x0100_0000, 2)).is_err());
}
