//! Shared helpers: a small machine (RAM + one vCPU) that runs code until
//! `sc 1`.
#![allow(dead_code)]

use std::sync::Arc;

use ppc_cpu::{CpuModel, CpuShared, Timebase, Vcpu, VcpuExit};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

pub const CODE: u64 = 0x1000;
pub const DATA: u64 = 0x6000;

pub struct Machine {
    pub mem: GuestMemoryMmap,
    pub shared: Arc<CpuShared>,
    pub tb: Timebase,
    pub vcpu: Vcpu,
}

pub fn machine(model: &str, ram: usize) -> Machine {
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), ram)]).unwrap();
    let shared = CpuShared::new(&mem);
    let tb = Timebase::new();
    let vcpu = Vcpu::new(
        CpuModel::by_name(model).unwrap(),
        &mem,
        shared.clone(),
        tb.clone(),
        0,
    );
    Machine {
        mem,
        shared,
        tb,
        vcpu,
    }
}

impl Machine {
    /// Writes instruction words at `addr` in the given byte order.
    pub fn load(&self, addr: u64, words: &[u32], le: bool) {
        for (i, w) in words.iter().enumerate() {
            let b = if le { w.to_le_bytes() } else { w.to_be_bytes() };
            self.mem
                .write_slice(&b, GuestAddress(addr + 4 * i as u64))
                .unwrap();
        }
        self.shared.invalidate_code(addr, 4 * words.len() as u64);
    }

    pub fn write_u64_be(&self, addr: u64, v: u64) {
        self.mem
            .write_slice(&v.to_be_bytes(), GuestAddress(addr))
            .unwrap();
    }

    pub fn read_u64_be(&self, addr: u64) -> u64 {
        let mut b = [0u8; 8];
        self.mem.read_slice(&mut b, GuestAddress(addr)).unwrap();
        u64::from_be_bytes(b)
    }

    pub fn read_u32_be(&self, addr: u64) -> u32 {
        let mut b = [0u8; 4];
        self.mem.read_slice(&mut b, GuestAddress(addr)).unwrap();
        u32::from_be_bytes(b)
    }

    /// Loads `words` big-endian at CODE followed by `sc 1`, runs from CODE
    /// until an exit other than budget exhaustion.
    pub fn run(&mut self, words: &[u32]) -> VcpuExit {
        let mut w = words.to_vec();
        w.push(ppc_cpu::asm::sc(1));
        self.load(CODE, &w, false);
        self.vcpu.set_nip(CODE);
        self.resume()
    }

    /// Runs until an exit other than budget exhaustion (bounded).
    pub fn resume(&mut self) -> VcpuExit {
        for _ in 0..50 {
            match self.vcpu.run(1_000_000) {
                VcpuExit::BudgetExhausted => continue,
                e => return e,
            }
        }
        panic!("guest did not exit");
    }

    pub fn g(&self, n: usize) -> u64 {
        self.vcpu.gpr(n)
    }
}
