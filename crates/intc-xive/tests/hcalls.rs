//! Every H_INT_* hcall: outputs and each error code.

mod common;

use common::{Harness, PRIO};
use intc_xive::spapr::{SpaprXive, VC_BASE};
use spapr_irq::papr::{h, hcall::*};

const ALL: [u64; 11] = [
    H_INT_GET_SOURCE_INFO,
    H_INT_SET_SOURCE_CONFIG,
    H_INT_GET_SOURCE_CONFIG,
    H_INT_GET_QUEUE_INFO,
    H_INT_SET_QUEUE_CONFIG,
    H_INT_GET_QUEUE_CONFIG,
    H_INT_SET_OS_REPORTING_LINE,
    H_INT_GET_OS_REPORTING_LINE,
    H_INT_ESB,
    H_INT_SYNC,
    H_INT_RESET,
];

#[test]
fn all_eleven_are_registered_and_answer_h_function_while_inactive() {
    let t = Harness::new(2, 2);
    let mut ops = t.x.hcall_opcodes().to_vec();
    ops.sort();
    assert_eq!(ops, ALL.to_vec());
    t.x.deactivate();
    for op in ALL {
        assert_eq!(t.hc(op, &[0, 0, 0, PRIO, 0]).ret, h::FUNCTION, "{op:#x}");
    }
    assert!(t.x.mmio_regions().is_empty());
    t.x.activate(2).unwrap();
    assert_eq!(t.x.mmio_regions().len(), 2);
}

#[test]
fn reporting_line_calls_are_unimplemented() {
    let t = Harness::new(2, 2);
    assert_eq!(
        t.hc(H_INT_SET_OS_REPORTING_LINE, &[0, 0x1000]).ret,
        h::FUNCTION
    );
    assert_eq!(
        t.hc(H_INT_GET_OS_REPORTING_LINE, &[0, 0, 0x1000]).ret,
        h::FUNCTION
    );
}

#[test]
fn lisn_checks_give_h_p2_everywhere() {
    let t = Harness::new(2, 2);
    let nr = u64::from(0x2000u32);
    for lisn in [nr, u64::MAX, 0x1005 /* not claimed */] {
        assert_eq!(t.hc(H_INT_GET_SOURCE_INFO, &[0, lisn]).ret, h::P2);
        assert_eq!(
            t.hc(H_INT_SET_SOURCE_CONFIG, &[0, lisn, 0, PRIO, 0]).ret,
            h::P2
        );
        assert_eq!(t.hc(H_INT_GET_SOURCE_CONFIG, &[0, lisn]).ret, h::P2);
        assert_eq!(t.hc(H_INT_ESB, &[0, lisn, 0x800, 0]).ret, h::P2);
        assert_eq!(t.hc(H_INT_SYNC, &[0, lisn]).ret, h::P2);
    }
}

#[test]
fn flags_checks_give_h_parameter() {
    let t = Harness::new(2, 2);
    assert_eq!(t.hc(H_INT_GET_SOURCE_INFO, &[1, 0]).ret, h::PARAMETER);
    assert_eq!(
        t.hc(H_INT_SET_SOURCE_CONFIG, &[4, 0, 0, PRIO, 0]).ret,
        h::PARAMETER
    );
    assert_eq!(t.hc(H_INT_GET_SOURCE_CONFIG, &[1, 0]).ret, h::PARAMETER);
    assert_eq!(t.hc(H_INT_GET_QUEUE_INFO, &[1, 0, PRIO]).ret, h::PARAMETER);
    assert_eq!(
        t.hc(H_INT_SET_QUEUE_CONFIG, &[2, 0, PRIO, 0, 0]).ret,
        h::PARAMETER
    );
    assert_eq!(
        t.hc(H_INT_GET_QUEUE_CONFIG, &[2, 0, PRIO]).ret,
        h::PARAMETER
    );
    assert_eq!(t.hc(H_INT_ESB, &[2, 0, 0x800, 0]).ret, h::PARAMETER);
    assert_eq!(t.hc(H_INT_SYNC, &[1, 0]).ret, h::PARAMETER);
    assert_eq!(t.hc(H_INT_RESET, &[1]).ret, h::PARAMETER);
    // Flags are checked before anything else.
    assert_eq!(
        t.hc(H_INT_GET_SOURCE_INFO, &[8, u64::MAX]).ret,
        h::PARAMETER
    );
}

#[test]
fn get_source_info_outputs() {
    let t = Harness::new(2, 2);
    // IPI (MSI): two pages, no flags, shift 16.
    let r = t.hc(H_INT_GET_SOURCE_INFO, &[0, 1]);
    assert_eq!(r.ret, h::SUCCESS);
    assert_eq!(r.nout, 4);
    assert_eq!(
        r.out,
        [0, SpaprXive::mgmt_page(1), SpaprXive::trigger_page(1), 16]
    );
    assert_eq!(r.out[2], VC_BASE + 0x20000);
    // LSI: H_INT_ESB | LSI, no pages.
    t.x.claim_irq(0x1200, true).unwrap();
    let r = t.hc(H_INT_GET_SOURCE_INFO, &[0, 0x1200]);
    assert_eq!(r.out, [0xC, u64::MAX, u64::MAX, 16]);
}

#[test]
fn set_source_config_errors_and_order() {
    let t = Harness::new(4, 2);
    // Reserved priority before target.
    assert_eq!(t.hc(H_INT_SET_SOURCE_CONFIG, &[2, 0, 99, 7, 5]).ret, h::P4);
    assert_eq!(
        t.hc(H_INT_SET_SOURCE_CONFIG, &[2, 0, 0, 0xFE, 5]).ret,
        h::P4
    );
    // Unknown target: beyond the servers, or a server with no vCPU.
    assert_eq!(
        t.hc(H_INT_SET_SOURCE_CONFIG, &[2, 0, 99, PRIO, 5]).ret,
        h::P3
    );
    assert_eq!(
        t.hc(H_INT_SET_SOURCE_CONFIG, &[2, 0, 3, PRIO, 5]).ret,
        h::P3
    );
    // Priority 0xFF: success for any target, route wiped.
    assert_eq!(
        t.hc(H_INT_SET_SOURCE_CONFIG, &[2, 0, 1, PRIO, 5]).ret,
        h::SUCCESS
    );
    assert_eq!(
        t.hc(H_INT_GET_SOURCE_CONFIG, &[0, 0]).out[..3],
        [1, PRIO, 5]
    );
    assert_eq!(
        t.hc(H_INT_SET_SOURCE_CONFIG, &[2, 0, 12345, 0xFF, 9]).ret,
        h::SUCCESS
    );
    assert_eq!(
        t.hc(H_INT_GET_SOURCE_CONFIG, &[0, 0]).out[..3],
        [0, 0xFF, 0]
    );
    // MASK flag keeps the route but reports 0xFF.
    assert_eq!(
        t.hc(H_INT_SET_SOURCE_CONFIG, &[3, 0, 1, 3, 8]).ret,
        h::SUCCESS
    );
    assert_eq!(
        t.hc(H_INT_GET_SOURCE_CONFIG, &[0, 0]).out[..3],
        [1, 0xFF, 8]
    );
    // Without SET_EISN the EISN is kept.
    assert_eq!(
        t.hc(H_INT_SET_SOURCE_CONFIG, &[0, 0, 0, 2, 77]).ret,
        h::SUCCESS
    );
    assert_eq!(t.hc(H_INT_GET_SOURCE_CONFIG, &[0, 0]).out[..3], [0, 2, 8]);
}

#[test]
fn queue_calls_errors() {
    let t = Harness::new(4, 2);
    let q = Harness::queue_page(0);
    for op in [H_INT_GET_QUEUE_INFO, H_INT_GET_QUEUE_CONFIG] {
        assert_eq!(t.hc(op, &[0, 0, 7]).ret, h::P3, "{op:#x}");
        assert_eq!(t.hc(op, &[0, 3, PRIO]).ret, h::P2, "{op:#x}");
        assert_eq!(t.hc(op, &[0, u64::MAX, PRIO]).ret, h::P2, "{op:#x}");
        // Priority is checked before target.
        assert_eq!(t.hc(op, &[0, 3, 7]).ret, h::P3, "{op:#x}");
    }
    let set = |a: &[u64]| t.hc(H_INT_SET_QUEUE_CONFIG, a).ret;
    assert_eq!(set(&[1, 0, 7, q, 16]), h::P3);
    assert_eq!(set(&[1, 9, PRIO, q, 16]), h::P2);
    assert_eq!(set(&[1, 0, PRIO, q + 0x1000, 16]), h::P4, "misaligned");
    assert_eq!(set(&[1, 0, PRIO, q, 13]), h::P5);
    assert_eq!(set(&[1, 0, PRIO, q, 17]), h::P5);
    assert_eq!(set(&[1, 0, PRIO, common::RAM, 16]), h::P4, "outside RAM");
    assert_eq!(
        set(&[1, 0, PRIO, common::RAM - 0x1000, 16]),
        h::P4,
        "straddles RAM end"
    );
    assert_eq!(set(&[1, 0, PRIO, 1 << 60, 12]), h::P4, "beyond 60 bits");
    assert_eq!(set(&[1, 0, PRIO, 0, 24]), h::SUCCESS);
    assert_eq!(set(&[1, 0, PRIO, q, 12]), h::SUCCESS);
    assert_eq!(set(&[0, 0, PRIO, q + 0x10000, 21]), h::P4, "2M alignment");
    assert_eq!(set(&[0, 0, PRIO, q, 21]), h::SUCCESS);
}

#[test]
fn queue_info_and_config_outputs() {
    let t = Harness::new(4, 2);
    let q = Harness::queue_page(1);
    let r = t.hc(H_INT_GET_QUEUE_INFO, &[0, 1, PRIO]);
    // END ESB pages follow the source ESBs: 0x2000 LISNs of 128K.
    let end_base = VC_BASE + (0x2000u64 << 17);
    assert_eq!(r.out[..2], [end_base + (((1 << 3) + PRIO) << 17), 0]);
    assert_eq!(
        t.hc(H_INT_GET_QUEUE_CONFIG, &[0, 1, PRIO]).out,
        [0, 0, 0, 0]
    );
    assert_eq!(t.hc(H_INT_SET_QUEUE_CONFIG, &[1, 1, PRIO, q, 16]).ret, 0);
    assert_eq!(t.hc(H_INT_GET_QUEUE_INFO, &[0, 1, PRIO]).out[1], 16);
    assert_eq!(
        t.hc(H_INT_GET_QUEUE_CONFIG, &[0, 1, PRIO]).out,
        [1, q, 16, 0]
    );
    // Debug: generation (PAPR bit 62) and index.
    assert_eq!(
        t.hc(H_INT_GET_QUEUE_CONFIG, &[1, 1, PRIO]).out,
        [3, q, 16, 0]
    );
    // qsize 0 resets the END.
    assert_eq!(t.hc(H_INT_SET_QUEUE_CONFIG, &[0, 1, PRIO, 0, 0]).ret, 0);
    assert_eq!(
        t.hc(H_INT_GET_QUEUE_CONFIG, &[1, 1, PRIO]).out,
        [0, 0, 0, 0]
    );
}

#[test]
fn esb_hcall_offsets_and_results() {
    let t = Harness::new(2, 2);
    assert_eq!(t.hc(H_INT_ESB, &[0, 1, 0x10000, 0]).ret, h::P3);
    assert_eq!(t.hc(H_INT_ESB, &[0, 1, u64::MAX, 0]).ret, h::P3);
    // Load of PQ: IPIs are off (01) after reset.
    assert_eq!(t.hc(H_INT_ESB, &[0, 1, 0x800, 0]).out[..1], [1]);
    assert_eq!(t.hc(H_INT_ESB, &[0, 1, 0xC00, 0]).out[..1], [1]);
    assert_eq!(t.hc(H_INT_ESB, &[0, 1, 0x800, 0]).out[..1], [0]);
    // Store: returns -1 and acts (set PQ=11).
    let r = t.hc(H_INT_ESB, &[1, 1, 0xF00, 0]);
    assert_eq!((r.ret, r.out[0]), (0, u64::MAX));
    assert_eq!(t.esb(1, 0x800), 3);
}

#[test]
fn sync_and_reset_succeed() {
    let t = Harness::new(2, 2);
    assert_eq!(t.hc(H_INT_SYNC, &[0, 0]).ret, h::SUCCESS);
    assert_eq!(t.hc(H_INT_RESET, &[0]).ret, h::SUCCESS);
}
