//! A machine-less harness around the registered "xive" backend.
#![allow(dead_code)]

use std::sync::Arc;

use intc_xive::spapr::{SpaprXive, TM_BASE};
use spapr_irq::papr::hcall::*;
use spapr_irq::{
    Caller, ControllerConfig, HcallReply, InterruptController, VcpuDesc, VcpuIrqInputs,
};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

pub const RAM: u64 = 64 << 20;
pub const TIMA_OS: u64 = TM_BASE + 0x20000;
pub const TIMA_HV: u64 = TM_BASE + 0x10000;
pub const TIMA_HW: u64 = TM_BASE;
pub const TIMA_USER: u64 = TM_BASE + 0x30000;
pub const PRIO: u64 = 6;

pub struct Harness {
    pub x: Arc<dyn InterruptController>,
    pub mem: GuestMemoryMmap,
    pub inputs: Vec<Arc<VcpuIrqInputs>>,
}

pub fn caller(vcpu: u32) -> Caller {
    Caller { vcpu, timebase: 0 }
}

impl Harness {
    /// `nr_vcpus` vCPUs (index = server = PIR) of `nr_servers`, active.
    pub fn new(nr_servers: u32, nr_vcpus: u32) -> Self {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), RAM as usize)]).unwrap();
        let cfg = ControllerConfig {
            nr_xirqs: spapr_irq::numbering::NR_XIRQS,
            nr_servers,
            guest_memory: mem.clone(),
        };
        let b = spapr_irq::backend("xive").expect("xive is registered");
        let x = (b.factory)(&cfg).unwrap();
        let mut inputs = Vec::new();
        for i in 0..nr_vcpus {
            let inp = VcpuIrqInputs::new();
            x.cpu_intc_create(&VcpuDesc {
                index: i,
                server: i,
                pir: i,
                line: inp.line(b.line_bit),
            })
            .unwrap();
            x.cpu_intc_reset(i);
            inputs.push(inp);
        }
        x.reset();
        x.activate(nr_servers).unwrap();
        Self { x, mem, inputs }
    }

    pub fn hc(&self, opcode: u64, args: &[u64]) -> HcallReply {
        self.x.hcall(caller(0), opcode, args)
    }

    pub fn raised(&self, vcpu: u32) -> bool {
        self.inputs[vcpu as usize].levels() != 0
    }

    pub fn load(&self, vcpu: u32, addr: u64, size: u8) -> u64 {
        self.x
            .mmio_read(caller(vcpu), addr, size)
            .unwrap_or(u64::MAX)
    }

    pub fn store(&self, vcpu: u32, addr: u64, size: u8, v: u64) {
        let _ = self.x.mmio_write(caller(vcpu), addr, size, v);
    }

    pub fn esb(&self, lisn: u32, off: u64) -> u64 {
        self.load(0, SpaprXive::mgmt_page(lisn) + off, 8)
    }

    pub fn trigger(&self, lisn: u32) {
        self.store(0, SpaprXive::trigger_page(lisn), 8, 0);
    }

    pub fn ack(&self, vcpu: u32) -> u64 {
        self.load(vcpu, TIMA_OS + 0x810, 2)
    }

    pub fn cppr(&self, vcpu: u32, v: u64) {
        self.store(vcpu, TIMA_OS + 0x11, 1, v);
    }

    /// QW1 word 0 (NSR CPPR IPB LSMFB) through the OS view.
    pub fn os_w0(&self, vcpu: u32) -> u32 {
        self.load(vcpu, TIMA_OS + 0x10, 4) as u32
    }

    pub fn queue_page(server: u32) -> u64 {
        0x100_0000 + u64::from(server) * 0x10000
    }

    /// Linux's setup: 64K queue, always notify, priority 6, CPPR 0xFF.
    pub fn linux_queue(&self, server: u32) {
        let r = self.hc(H_INT_GET_QUEUE_INFO, &[0, server.into(), PRIO]);
        assert_eq!(r.ret, 0);
        let r = self.hc(
            H_INT_SET_QUEUE_CONFIG,
            &[1, server.into(), PRIO, Self::queue_page(server), 16],
        );
        assert_eq!(r.ret, 0);
        self.cppr(server, 0xFF);
    }

    /// Linux's startup of a source: route with an EISN, then PQ=00.
    pub fn linux_source(&self, lisn: u32, server: u32, eisn: u32) {
        let r = self.hc(
            H_INT_SET_SOURCE_CONFIG,
            &[2, lisn.into(), server.into(), PRIO, eisn.into()],
        );
        assert_eq!(r.ret, 0);
        assert_eq!(self.esb(lisn, 0xC00) & 3, 1);
    }

    pub fn word(&self, addr: u64) -> u32 {
        let mut b = [0u8; 4];
        self.mem.read_slice(&mut b, GuestAddress(addr)).unwrap();
        u32::from_be_bytes(b)
    }

    /// Queue entry `i` of `server`'s Linux queue.
    pub fn entry(&self, server: u32, i: u64) -> u32 {
        self.word(Self::queue_page(server) + 4 * i)
    }

    /// (generation, index) of a queue, through the debug GET_QUEUE_CONFIG.
    pub fn queue_pos(&self, server: u32, prio: u64) -> (u64, u64) {
        let r = self.hc(H_INT_GET_QUEUE_CONFIG, &[1, server.into(), prio]);
        assert_eq!(r.ret, 0);
        ((r.out[0] >> 1) & 1, r.out[3])
    }
}

/// A guest-side reader of one queue, as Linux reads it.
pub struct QueueReader {
    pub base: u64,
    pub idx: u64,
    pub toggle: u32,
    pub entries: u64,
}

impl QueueReader {
    pub fn new(base: u64, qshift: u32) -> Self {
        Self {
            base,
            idx: 0,
            toggle: 0,
            entries: 1 << (qshift - 2),
        }
    }

    pub fn pop(&mut self, mem: &GuestMemoryMmap) -> Option<u32> {
        let mut b = [0u8; 4];
        mem.read_slice(&mut b, GuestAddress(self.base + 4 * self.idx))
            .unwrap();
        let w = u32::from_be_bytes(b);
        if w >> 31 == self.toggle {
            return None;
        }
        self.idx = (self.idx + 1) % self.entries;
        if self.idx == 0 {
            self.toggle ^= 1;
        }
        Some(w & 0x7FFF_FFFF)
    }
}
