//! Guest-controlled instruction words and addresses never panic: random
//! words run in every mode (BE/LE, 32/64-bit, problem state, relocation
//! on without tables) and every exit is a defined one.

mod common;

use common::{machine, CODE};
use ppc_cpu::asm::sc;
use ppc_cpu::regs::msr;
use ppc_cpu::{MmioResult, VcpuExit};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_words_never_panic(
        words in proptest::collection::vec(any::<u32>(), 1..24),
        regs in proptest::collection::vec(any::<u64>(), 32),
        mode in 0u64..16,
        model in prop_oneof![Just("power8"), Just("power9"), Just("power10")],
    ) {
        let mut m = machine(model, 1 << 20);
        for v in (0x100..0x1000).step_by(0x20) {
            m.load(v, &[sc(1)], false);
        }
        let mut msr_v = msr::ME;
        if mode & 1 != 0 { msr_v |= msr::SF; }
        if mode & 2 != 0 { msr_v |= msr::LE; }
        if mode & 4 != 0 { msr_v |= msr::PR; }
        if mode & 8 != 0 { msr_v |= msr::IR | msr::DR; }
        m.load(CODE, &words, mode & 2 != 0);
        for (i, r) in regs.iter().enumerate() {
            m.vcpu.set_gpr(i, *r);
        }
        m.vcpu.set_msr(msr_v);
        m.vcpu.set_nip(CODE);
        for _ in 0..8 {
            match m.vcpu.run(2_000) {
                VcpuExit::Mmio(req) => {
                    prop_assert!(matches!(req.size, 1 | 2 | 4 | 8));
                    let r = if req.addr & 1 == 0 { MmioResult::Done(0) } else { MmioResult::Unassigned };
                    m.vcpu.complete_mmio(&req, r);
                }
                VcpuExit::Hcall { .. } => m.vcpu.set_hcall_result(&[0]),
                VcpuExit::Idle | VcpuExit::BudgetExhausted => {}
                VcpuExit::Unimplemented { .. } | VcpuExit::Checkstop => break,
            }
        }
    }
}
