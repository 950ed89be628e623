//! The vCPU alone: a guest that prints "hi" through H_PUT_TERM_CHAR and
//! then makes a last hcall, run by a tiny hcall loop.
//!
//! `cargo run -p ppc-cpu --example standalone`

use ppc_cpu::{asm, CpuModel, CpuShared, Timebase, Vcpu, VcpuExit};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

fn main() {
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();
    let shared = CpuShared::new(&mem); // one per machine
    let tb = Timebase::new(); // one per machine
    let model = CpuModel::by_name("POWER9").unwrap();
    let mut cpu = Vcpu::new(model, &mem, shared.clone(), tb, 0);

    // H_PUT_TERM_CHAR(vterm 0, len 2, "hi" packed big-endian in r6), then
    // hcall 0xf000 (what RTAS power-off goes through) to stop.
    let code = [
        asm::li(3, 0x58),
        asm::li(4, 0),
        asm::li(5, 2),
        asm::addis(6, 0, 0x6869),
        asm::sldi(6, 6, 32),
        asm::sc(1),
        asm::li(3, 0),
        asm::ori(3, 3, 0xf000),
        asm::sc(1),
    ];
    for (i, w) in code.iter().enumerate() {
        let addr = GuestAddress(0x100 + 4 * i as u64);
        mem.write_slice(&w.to_be_bytes(), addr).unwrap();
    }
    // The machine must tell the decode caches about writes it makes.
    shared.invalidate_code(0x100, 4 * code.len() as u64);

    let mut console = Vec::new();
    loop {
        match cpu.run(1_000_000) {
            VcpuExit::Hcall { opcode: 0x58, args } => {
                let len = (args[1] as usize).min(16);
                let mut bytes = args[2].to_be_bytes().to_vec();
                bytes.extend(args[3].to_be_bytes());
                console.extend_from_slice(&bytes[..len]);
                cpu.set_hcall_result(&[0]); // H_SUCCESS
            }
            VcpuExit::Hcall { opcode: 0xf000, .. } => break,
            VcpuExit::BudgetExhausted => continue,
            other => panic!("unexpected exit {other:?}"),
        }
    }
    println!(
        "guest said {:?} after {} instructions",
        String::from_utf8_lossy(&console),
        cpu.instructions()
    );
}
