//! Test harness: the XICS controller built through the registry, as a
//! machine builds it, driven through `dyn InterruptController` with the
//! guest's hypercalls and RTAS calls.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use intc_xics as _;
use spapr_irq::papr::{h, hcall};
use spapr_irq::{Caller, ControllerConfig, HcallReply, InterruptController, IrqLine, VcpuDesc};

pub use intc_xics::spapr::{
    RTAS_IBM_GET_XIVE, RTAS_IBM_INT_OFF, RTAS_IBM_INT_ON, RTAS_IBM_SET_XIVE,
};

/// The layout QEMU 7.2's default pseries machine claims: EPOW, hot-plug,
/// four VIO devices (MSI) and one PHB's four LSIs.
pub const DEFAULT_MSIS: [u32; 6] = [0x1000, 0x1001, 0x1100, 0x1101, 0x1102, 0x1103];
/// See [`DEFAULT_MSIS`].
pub const DEFAULT_LSIS: [u32; 4] = [0x1200, 0x1201, 0x1202, 0x1203];

/// A controller with vCPUs `0..n` on servers `0..n`.
pub struct Harness {
    pub c: Arc<dyn InterruptController>,
    pub lines: Vec<IrqLine>,
    pub timebase: u64,
}

pub fn config(nr_xirqs: u32, nr_servers: u32) -> ControllerConfig {
    ControllerConfig {
        nr_xirqs,
        nr_servers,
        guest_memory: vm_memory::GuestMemoryMmap::default(),
    }
}

impl Harness {
    /// `n` vCPUs, 0x1000 sources, active, reset (every CPPR 0).
    pub fn new(n: u32) -> Self {
        Self::with(0x1000, n, n)
    }

    /// `vcpus` vCPUs out of `nr_servers` server numbers.
    pub fn with(nr_xirqs: u32, nr_servers: u32, vcpus: u32) -> Self {
        let backend = spapr_irq::backend("xics").expect("xics is registered");
        let c = (backend.factory)(&config(nr_xirqs, nr_servers)).expect("factory");
        let mut lines = Vec::new();
        for i in 0..vcpus {
            let line = spapr_irq::VcpuIrqInputs::new().line(backend.line_bit);
            c.cpu_intc_create(&VcpuDesc {
                index: i,
                server: i,
                pir: i,
                line: line.clone(),
            })
            .expect("presenter");
            lines.push(line);
        }
        c.activate(nr_servers).unwrap();
        c.reset();
        for i in 0..vcpus {
            c.cpu_intc_reset(i);
        }
        Self {
            c,
            lines,
            timebase: 0x1234_5678_9ABC,
        }
    }

    /// Claims QEMU 7.2's default sources.
    pub fn claim_defaults(&self) {
        for irq in DEFAULT_MSIS {
            self.c.claim_irq(irq, false).unwrap();
        }
        for irq in DEFAULT_LSIS {
            self.c.claim_irq(irq, true).unwrap();
        }
    }

    pub fn caller(&self, vcpu: u32) -> Caller {
        Caller {
            vcpu,
            timebase: self.timebase,
        }
    }

    pub fn hcall(&self, vcpu: u32, opcode: u64, args: &[u64]) -> HcallReply {
        self.c.hcall(self.caller(vcpu), opcode, args)
    }

    /// H_XIRR; asserts success and returns the XIRR.
    pub fn xirr(&self, vcpu: u32) -> u32 {
        let r = self.hcall(vcpu, hcall::H_XIRR, &[0xFF]);
        assert_eq!(r.ret, h::SUCCESS, "H_XIRR");
        assert_eq!(r.nout, 1);
        r.out[0] as u32
    }

    pub fn eoi(&self, vcpu: u32, xirr: u32) -> i64 {
        self.hcall(vcpu, hcall::H_EOI, &[xirr as u64]).ret
    }

    pub fn cppr(&self, vcpu: u32, cppr: u8) -> i64 {
        self.hcall(vcpu, hcall::H_CPPR, &[cppr as u64]).ret
    }

    pub fn ipi(&self, from: u32, server: u64, mfrr: u8) -> i64 {
        self.hcall(from, hcall::H_IPI, &[server, mfrr as u64]).ret
    }

    /// H_IPOLL of `server`; asserts success, returns (xirr, mfrr).
    pub fn ipoll(&self, server: u32) -> (u32, u8) {
        let r = self.hcall(0, hcall::H_IPOLL, &[server as u64]);
        assert_eq!(r.ret, h::SUCCESS, "H_IPOLL");
        assert_eq!(r.nout, 2);
        (r.out[0] as u32, r.out[1] as u8)
    }

    pub fn rtas(&self, token: u32, args: &[u32], nret: usize) -> Vec<i64> {
        let mut rets = vec![0xDEAD_BEEFu32; nret];
        self.c.rtas(self.caller(0), token, args, &mut rets);
        rets.iter().map(|&r| r as i32 as i64).collect()
    }

    pub fn set_xive(&self, irq: u32, server: u32, priority: u32) -> i64 {
        self.rtas(RTAS_IBM_SET_XIVE, &[irq, server, priority], 1)[0]
    }

    /// `ibm,get-xive`; asserts success, returns (server, priority).
    pub fn get_xive(&self, irq: u32) -> (u32, u32) {
        let r = self.rtas(RTAS_IBM_GET_XIVE, &[irq], 3);
        assert_eq!(r[0], 0, "get-xive status");
        (r[1] as u32, r[2] as u32)
    }

    pub fn int_off(&self, irq: u32) -> i64 {
        self.rtas(RTAS_IBM_INT_OFF, &[irq], 1)[0]
    }

    pub fn int_on(&self, irq: u32) -> i64 {
        self.rtas(RTAS_IBM_INT_ON, &[irq], 1)[0]
    }

    pub fn raised(&self, vcpu: u32) -> bool {
        self.lines[vcpu as usize].is_raised()
    }

    pub fn info_pic(&self) -> String {
        let mut s = String::new();
        self.c.print_info(&mut s).unwrap();
        s
    }
}

/// Captures what `tracing` logs while `f` runs on this thread.
pub fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let r = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (r, text)
}
