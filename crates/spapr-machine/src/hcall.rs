//! Hypercall dispatch: the interrupt controllers' hcalls through the front
//! end, and the ones the machine owns (console, idle, VPA, H_SET_MODE,
//! memory helpers, RTAS, CAS).

use std::io::Read;
use std::sync::atomic::Ordering;

use ppc_cpu::Vcpu;
use spapr_irq::papr::h;
use spapr_irq::Caller;

use crate::machine::{Machine, VcpuSlot};

/// Machine hcall opcodes.
pub mod op {
    /// Set SPRG0.
    pub const H_SET_SPRG0: u64 = 0x24;
    /// Set the data address breakpoint.
    pub const H_SET_DABR: u64 = 0x28;
    /// Zero or copy a page.
    pub const H_PAGE_INIT: u64 = 0x2C;
    /// Cache-inhibited load.
    pub const H_LOGICAL_CI_LOAD: u64 = 0x3C;
    /// Cache-inhibited store.
    pub const H_LOGICAL_CI_STORE: u64 = 0x40;
    /// Console input.
    pub const H_GET_TERM_CHAR: u64 = 0x54;
    /// Console output.
    pub const H_PUT_TERM_CHAR: u64 = 0x58;
    /// Register the virtual processor area.
    pub const H_REGISTER_VPA: u64 = 0xDC;
    /// Idle until an interrupt.
    pub const H_CEDE: u64 = 0xE0;
    /// Give up the rest of the time slice.
    pub const H_CONFER: u64 = 0xE4;
    /// Wake a ceded vCPU.
    pub const H_PROD: u64 = 0xE8;
    /// VIO interrupt signalling mode.
    pub const H_VIO_SIGNAL: u64 = 0x104;
    /// CPU vulnerability characteristics.
    pub const H_GET_CPU_CHARACTERISTICS: u64 = 0x1C8;
    /// Random number.
    pub const H_RANDOM: u64 = 0x300;
    /// Partition-wide modes (interrupt endianness, AIL).
    pub const H_SET_MODE: u64 = 0x31C;
    /// Register the radix process table.
    pub const H_REGISTER_PROCESS_TABLE: u64 = 0x37C;
    /// Enter RTAS.
    pub const H_RTAS: u64 = 0xF000;
    /// `ibm,client-architecture-support`.
    pub const H_CAS: u64 = 0xF002;
    /// The guest hands back its device tree.
    pub const H_UPDATE_DT: u64 = 0xF003;
}

/// What the vCPU loop must do after an hcall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HcallOutcome {
    /// Results written; run on.
    Return,
    /// Idle until an interrupt (H_CEDE with nothing pending).
    Cede,
    /// The vCPU stopped itself (RTAS stop-self).
    Stop,
}

/// `H_SET_MODE` resources.
const SET_MODE_CIABR: u64 = 1;
const SET_MODE_DAWR0: u64 = 2;
const SET_MODE_ADDR_TRANS_MODE: u64 = 3;
const SET_MODE_LE: u64 = 4;
/// `H_UNSUPPORTED_FLAG`.
const H_UNSUPPORTED_FLAG: i64 = -256;
/// `H_RESOURCE`.
const H_RESOURCE: i64 = -16;

/// VPA sub-functions (`flags & 0x0000e00000000000`).
const VPA_FLAGS_MASK: u64 = 0x0000_e000_0000_0000;
const VPA_REGISTER: u64 = 0x0000_2000_0000_0000;
const VPA_REGISTER_SLB: u64 = 0x0000_4000_0000_0000;
const VPA_REGISTER_DTL: u64 = 0x0000_6000_0000_0000;
const VPA_DEREGISTER: u64 = 0x0000_a000_0000_0000;
const VPA_DEREGISTER_SLB: u64 = 0x0000_c000_0000_0000;
const VPA_DEREGISTER_DTL: u64 = 0x0000_e000_0000_0000;
/// Smallest VPA (PAPR).
const VPA_MIN_SIZE: u16 = 640;
/// Offset of the dispatch counter in the VPA.
pub(crate) const VPA_DISPATCH_COUNTER: u64 = 0x100;
const VPA_SHARED_PROC_OFFSET: u64 = 0x9;
const VPA_SHARED_PROC_VAL: u8 = 0x2;

/// The output registers after r3 of a machine-owned hcall (at most four),
/// inline so that answering an hcall allocates nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outs {
    regs: [u64; 4],
    len: usize,
}

impl Outs {
    /// No outputs.
    pub(crate) const NONE: Self = Self {
        regs: [0; 4],
        len: 0,
    };

    /// These outputs (the first four of them).
    pub(crate) fn of(values: &[u64]) -> Self {
        let mut o = Self::NONE;
        o.len = values.len().min(4);
        o.regs[..o.len].copy_from_slice(&values[..o.len]);
        o
    }
}

impl Machine {
    fn caller(&self, slot: &VcpuSlot) -> Caller {
        Caller {
            vcpu: slot.index,
            timebase: self.timebase.read(),
        }
    }

    /// The vCPU slot whose interrupt server number is `server`.
    pub(crate) fn slot_by_server(&self, server: u64) -> Option<&VcpuSlot> {
        self.vcpus.iter().find(|s| u64::from(s.server) == server)
    }

    /// Serves hcall `opcode` for `slot` (its `cpu` locked by the caller)
    /// and writes r3.. back.
    pub(crate) fn hcall(
        &self,
        slot: &VcpuSlot,
        cpu: &mut Vcpu,
        opcode: u64,
        args: &[u64; 9],
    ) -> HcallOutcome {
        if let Some(reply) = self.irq.hcall(self.caller(slot), opcode, args) {
            let mut regs = [0u64; 5];
            regs[0] = reply.ret as u64;
            let n = usize::from(reply.nout).min(4);
            regs[1..=n].copy_from_slice(&reply.out[..n]);
            cpu.set_hcall_result(&regs[..=n]);
            return HcallOutcome::Return;
        }
        let (ret, out, outcome): (i64, Outs, HcallOutcome) = match opcode {
            op::H_SET_SPRG0 => {
                cpu.set_sprg(0, args[0]);
                (h::SUCCESS, Outs::NONE, HcallOutcome::Return)
            }
            op::H_SET_DABR => (self.h_set_dabr(), Outs::NONE, HcallOutcome::Return),
            op::H_PAGE_INIT => (self.h_page_init(args), Outs::NONE, HcallOutcome::Return),
            op::H_LOGICAL_CI_LOAD => match self.ci_load(slot, args[0], args[1]) {
                Some(v) => (h::SUCCESS, Outs::of(&[v]), HcallOutcome::Return),
                None => (h::PARAMETER, Outs::NONE, HcallOutcome::Return),
            },
            op::H_LOGICAL_CI_STORE => (
                self.ci_store(slot, args[0], args[1], args[2]),
                Outs::NONE,
                HcallOutcome::Return,
            ),
            op::H_GET_TERM_CHAR => self.h_get_term_char(args),
            op::H_PUT_TERM_CHAR => (self.h_put_term_char(args), Outs::NONE, HcallOutcome::Return),
            op::H_REGISTER_VPA => (
                self.h_register_vpa(slot, args),
                Outs::NONE,
                HcallOutcome::Return,
            ),
            op::H_CEDE => {
                cpu.cede();
                if cpu.interrupt_pending() {
                    (h::SUCCESS, Outs::NONE, HcallOutcome::Return)
                } else {
                    (h::SUCCESS, Outs::NONE, HcallOutcome::Cede)
                }
            }
            op::H_CONFER => {
                std::thread::yield_now();
                (h::SUCCESS, Outs::NONE, HcallOutcome::Return)
            }
            op::H_PROD => match self.slot_by_server(args[0]) {
                Some(t) => {
                    t.run.lock().prod = true;
                    t.inputs.kick();
                    (h::SUCCESS, Outs::NONE, HcallOutcome::Return)
                }
                None => (h::PARAMETER, Outs::NONE, HcallOutcome::Return),
            },
            op::H_VIO_SIGNAL => (self.h_vio_signal(args), Outs::NONE, HcallOutcome::Return),
            op::H_GET_CPU_CHARACTERISTICS => {
                let (c, b) = self.cpu_characteristics();
                (h::SUCCESS, Outs::of(&[c, b]), HcallOutcome::Return)
            }
            op::H_RANDOM => match random_u64() {
                Some(v) => (h::SUCCESS, Outs::of(&[v]), HcallOutcome::Return),
                None => (h::HARDWARE, Outs::NONE, HcallOutcome::Return),
            },
            op::H_SET_MODE => (self.h_set_mode(cpu, args), Outs::NONE, HcallOutcome::Return),
            op::H_REGISTER_PROCESS_TABLE => (
                self.h_register_process_table(args),
                Outs::NONE,
                HcallOutcome::Return,
            ),
            op::H_RTAS => self.h_rtas(slot, args[0]),
            op::H_CAS => {
                let (ret, outcome) = self.h_cas(slot, cpu, args);
                (ret, Outs::NONE, outcome)
            }
            op::H_UPDATE_DT => (self.h_update_dt(args[0]), Outs::NONE, HcallOutcome::Return),
            _ => {
                if self.logged_hcalls.lock().insert(opcode) {
                    tracing::warn!("Unimplemented SPAPR hcall 0x{opcode:x}");
                }
                (h::FUNCTION, Outs::NONE, HcallOutcome::Return)
            }
        };
        let mut regs = [0u64; 5];
        regs[0] = ret as u64;
        regs[1..=out.len].copy_from_slice(&out.regs[..out.len]);
        cpu.set_hcall_result(&regs[..=out.len]);
        outcome
    }

    /// H_SET_DABR: POWER9 and later have no DABR (QEMU answers
    /// H_HARDWARE); older models accept it. Never H_PRIVILEGE, which guests
    /// read as a broken `sc 1`.
    fn h_set_dabr(&self) -> i64 {
        if self.cfg.cpu.isa >= ppc_cpu::IsaLevel::V3_00 {
            h::HARDWARE
        } else {
            h::SUCCESS
        }
    }

    /// H_PAGE_INIT: flags (bit 48 zero, bit 49 copy), destination, source;
    /// both 4K-aligned and inside RAM.
    fn h_page_init(&self, args: &[u64; 9]) -> i64 {
        const ZERO: u64 = 1 << 15;
        const COPY: u64 = 1 << 14;
        let (flags, dst, src) = (args[0], args[1], args[2]);
        let page = 4096;
        if dst % page != 0 || !self.ram.contains(dst, page) {
            return h::PARAMETER;
        }
        if flags & COPY != 0 {
            if src % page != 0 || !self.ram.contains(src, page) {
                return h::PARAMETER;
            }
            if !self.ram.copy(dst, src, page) {
                return h::PARAMETER;
            }
        } else if flags & ZERO != 0 && !self.ram.zero(dst, page) {
            return h::PARAMETER;
        }
        h::SUCCESS
    }

    fn ci_load(&self, slot: &VcpuSlot, size: u64, addr: u64) -> Option<u64> {
        if !matches!(size, 1 | 2 | 4 | 8) {
            return None;
        }
        let mut b = [0u8; 8];
        let n = size as usize;
        if self.ram.read(addr, &mut b[..n]) {
            return Some(b[..n].iter().fold(0u64, |v, &x| v << 8 | u64::from(x)));
        }
        self.irq.mmio_read(self.caller(slot), addr, size as u8).ok()
    }

    fn ci_store(&self, slot: &VcpuSlot, size: u64, addr: u64, val: u64) -> i64 {
        if !matches!(size, 1 | 2 | 4 | 8) {
            return h::PARAMETER;
        }
        let n = size as usize;
        let bytes = val.to_be_bytes();
        if self.ram.write(addr, &bytes[8 - n..]) {
            return h::SUCCESS;
        }
        match self
            .irq
            .mmio_write(self.caller(slot), addr, size as u8, val)
        {
            Ok(()) => h::SUCCESS,
            Err(_) => h::PARAMETER,
        }
    }

    /// The vty a terminal number names: 0 means the default one.
    fn vty_for(&self, termno: u64) -> Option<&crate::vty::Vty> {
        self.vty
            .as_ref()
            .filter(|v| termno == 0 || termno == u64::from(v.reg))
    }

    fn h_get_term_char(&self, args: &[u64; 9]) -> (i64, Outs, HcallOutcome) {
        let Some(vty) = self.vty_for(args[0]) else {
            return (h::PARAMETER, Outs::NONE, HcallOutcome::Return);
        };
        let (bytes, pulse, drained) = vty.get();
        if pulse.0 {
            self.pulse_irq(vty.irq);
        }
        if drained.0 {
            self.console_drained();
        }
        let mut buf = [0u8; 16];
        buf[..bytes.len()].copy_from_slice(&bytes);
        let w0 = u64::from_be_bytes(buf[..8].try_into().expect("8 bytes"));
        let w1 = u64::from_be_bytes(buf[8..].try_into().expect("8 bytes"));
        (
            h::SUCCESS,
            Outs::of(&[bytes.len() as u64, w0, w1]),
            HcallOutcome::Return,
        )
    }

    fn h_put_term_char(&self, args: &[u64; 9]) -> i64 {
        let Some(vty) = self.vty_for(args[0]) else {
            return h::PARAMETER;
        };
        let len = args[1];
        if len > 16 {
            return h::PARAMETER;
        }
        let mut buf = [0u8; 16];
        buf[..8].copy_from_slice(&args[2].to_be_bytes());
        buf[8..].copy_from_slice(&args[3].to_be_bytes());
        vty.put(&buf[..len as usize]);
        h::SUCCESS
    }

    /// H_VIO_SIGNAL: neither of our VIO devices has a signal mask (QEMU's
    /// vty and nvram have none), so any mode but 0 is refused.
    fn h_vio_signal(&self, args: &[u64; 9]) -> i64 {
        let unit = args[0];
        let exists = self.vty.as_ref().is_some_and(|v| u64::from(v.reg) == unit)
            || u64::from(self.nvram.lock().reg) == unit;
        if !exists || args[1] != 0 {
            return h::PARAMETER;
        }
        h::SUCCESS
    }

    /// H_REGISTER_VPA with QEMU's checks.
    fn h_register_vpa(&self, caller: &VcpuSlot, args: &[u64; 9]) -> i64 {
        let (flags, procno, addr) = (args[0], args[1], args[2]);
        let Some(target) = self.slot_by_server(procno) else {
            return h::PARAMETER;
        };
        let _ = caller;
        let mut run = target.run.lock();
        match flags & VPA_FLAGS_MASK {
            VPA_REGISTER => {
                if addr == 0 || addr % 128 != 0 {
                    return h::PARAMETER;
                }
                let mut sz = [0u8; 2];
                if !self.ram.read(addr + 4, &mut sz) {
                    return h::PARAMETER;
                }
                let size = u16::from_be_bytes(sz);
                if size < VPA_MIN_SIZE
                    || addr / 4096 != (addr + u64::from(size) - 1) / 4096
                    || !self.ram.contains(addr, u64::from(size))
                {
                    return h::PARAMETER;
                }
                let mut b = [0u8];
                if self.ram.read(addr + VPA_SHARED_PROC_OFFSET, &mut b) {
                    b[0] |= VPA_SHARED_PROC_VAL;
                    let _ = self.ram.write(addr + VPA_SHARED_PROC_OFFSET, &b);
                }
                run.vpa = addr;
                h::SUCCESS
            }
            VPA_DEREGISTER => {
                if run.slb_shadow != 0 || run.dtl != 0 {
                    return H_RESOURCE;
                }
                run.vpa = 0;
                h::SUCCESS
            }
            VPA_REGISTER_SLB | VPA_REGISTER_DTL => {
                if run.vpa == 0 {
                    return H_RESOURCE;
                }
                let mut sz = [0u8; 4];
                if addr == 0 || !self.ram.read(addr + 4, &mut sz) {
                    return h::PARAMETER;
                }
                let size = u64::from(u32::from_be_bytes(sz));
                if !self.ram.contains(addr, size.max(8)) {
                    return h::PARAMETER;
                }
                if flags & VPA_FLAGS_MASK == VPA_REGISTER_SLB {
                    run.slb_shadow = addr;
                } else {
                    run.dtl = addr;
                }
                h::SUCCESS
            }
            VPA_DEREGISTER_SLB => {
                run.slb_shadow = 0;
                h::SUCCESS
            }
            VPA_DEREGISTER_DTL => {
                run.dtl = 0;
                h::SUCCESS
            }
            _ => h::PARAMETER,
        }
    }

    /// Adds one to the dispatch counter of `slot`'s VPA (when the vCPU
    /// stops running and when it runs again, so it is odd while idle).
    pub(crate) fn vpa_dispatch_tick(&self, slot: &VcpuSlot) {
        let vpa = slot.run.lock().vpa;
        if vpa != 0 {
            if let Some(v) = self.ram.read_be32(vpa + VPA_DISPATCH_COUNTER) {
                let _ = self
                    .ram
                    .write_be32(vpa + VPA_DISPATCH_COUNTER, v.wrapping_add(1));
            }
        }
    }

    /// H_GET_CPU_CHARACTERISTICS from the speculation caps (what QEMU
    /// reports).
    fn cpu_characteristics(&self) -> (u64, u64) {
        use spapr_caps::CapId;
        const CHAR_SPEC_BAR_ORI31: u64 = 1 << 63;
        const CHAR_BCCTRL_SERIALISED: u64 = 1 << 62;
        const CHAR_L1D_FLUSH_ORI30: u64 = 1 << 61;
        const CHAR_L1D_FLUSH_TRIG2: u64 = 1 << 60;
        const CHAR_L1D_THREAD_PRIV: u64 = 1 << 59;
        const CHAR_HON_BRANCH_HINTS: u64 = 1 << 58;
        const CHAR_CACHE_COUNT_DIS: u64 = 1 << 54;
        const CHAR_BCCTR_FLUSH_ASSIST: u64 = 1 << 53;
        const BEHAV_FAVOUR_SECURITY: u64 = 1 << 63;
        const BEHAV_L1D_FLUSH_PR: u64 = 1 << 62;
        const BEHAV_BNDS_CHK_SPEC_BAR: u64 = 1 << 61;
        const BEHAV_FLUSH_COUNT_CACHE: u64 = 1 << 58;
        const BEHAV_NO_L1D_FLUSH_ENTRY: u64 = 1 << 57;
        const BEHAV_NO_L1D_FLUSH_UACCESS: u64 = 1 << 56;
        let caps = &self.cfg.caps;
        let mut c = CHAR_HON_BRANCH_HINTS;
        let mut b = BEHAV_FAVOUR_SECURITY;
        match caps.get(CapId::Cfpc) {
            1 => {
                c |= CHAR_L1D_FLUSH_ORI30 | CHAR_L1D_FLUSH_TRIG2 | CHAR_L1D_THREAD_PRIV;
                b |= BEHAV_L1D_FLUSH_PR;
            }
            2 => b |= BEHAV_NO_L1D_FLUSH_ENTRY | BEHAV_NO_L1D_FLUSH_UACCESS,
            _ => b |= BEHAV_L1D_FLUSH_PR,
        }
        match caps.get(CapId::Sbbc) {
            1 => {
                c |= CHAR_SPEC_BAR_ORI31;
                b |= BEHAV_BNDS_CHK_SPEC_BAR;
            }
            2 => {}
            _ => b |= BEHAV_BNDS_CHK_SPEC_BAR,
        }
        match caps.get(CapId::Ibs) {
            1 => {
                b |= BEHAV_FLUSH_COUNT_CACHE;
                if caps.is_on(CapId::CcfAssist) {
                    c |= CHAR_BCCTR_FLUSH_ASSIST;
                }
            }
            2 => c |= CHAR_BCCTRL_SERIALISED,
            3 => c |= CHAR_CACHE_COUNT_DIS,
            _ => {}
        }
        (c, b)
    }

    /// H_SET_MODE: interrupt endianness and AIL for every vCPU; breakpoint
    /// resources are accepted and not modelled.
    fn h_set_mode(&self, cpu: &mut Vcpu, args: &[u64; 9]) -> i64 {
        let (mflags, resource, v1, v2) = (args[0], args[1], args[2], args[3]);
        match resource {
            SET_MODE_LE => {
                if v1 != 0 {
                    return h::P3;
                }
                if v2 != 0 {
                    return h::P4;
                }
                let le = match mflags {
                    0 => false,
                    1 => true,
                    _ => return H_UNSUPPORTED_FLAG,
                };
                self.set_all_modes(cpu, Some(le), None);
                h::SUCCESS
            }
            SET_MODE_ADDR_TRANS_MODE => {
                if v1 != 0 {
                    return h::P3;
                }
                if v2 != 0 {
                    return h::P4;
                }
                let ail3 = self.cfg.caps.is_on(spapr_caps::CapId::AilMode3);
                match mflags {
                    0 => {}
                    3 if ail3 => {}
                    _ => return H_UNSUPPORTED_FLAG,
                }
                self.set_all_modes(cpu, None, Some(mflags));
                h::SUCCESS
            }
            SET_MODE_CIABR | SET_MODE_DAWR0 => {
                if mflags != 0 {
                    return H_UNSUPPORTED_FLAG;
                }
                h::SUCCESS
            }
            _ => h::P2,
        }
    }

    /// Applies partition-wide LPCR modes: at once on the calling vCPU, at
    /// the next run on the others.
    fn set_all_modes(&self, cpu: &mut Vcpu, ile: Option<bool>, ail: Option<u64>) {
        {
            let mut modes = self.modes.lock();
            if let Some(le) = ile {
                modes.ile = le;
            }
            if let Some(a) = ail {
                modes.ail = a;
            }
            modes.epoch += 1;
            self.modes_epoch.store(modes.epoch, Ordering::Release);
        }
        self.apply_modes(cpu);
    }

    /// Brings `cpu` up to date with the partition-wide modes.
    pub(crate) fn apply_modes(&self, cpu: &mut Vcpu) {
        let modes = *self.modes.lock();
        cpu.set_interrupt_little_endian(modes.ile);
        let _ = cpu.set_ail(modes.ail);
    }

    /// H_REGISTER_PROCESS_TABLE (radix only; hash process tables are not
    /// implemented, like the hash MMU).
    fn h_register_process_table(&self, args: &[u64; 9]) -> i64 {
        const MODIFY: u64 = 0x10;
        const REGISTER: u64 = 0x08;
        const RADIX: u64 = 0x04;
        const MASK: u64 = 0x1F;
        let (flags, base, page_size, table_size) = (args[0], args[1], args[2], args[3]);
        if flags & !MASK != 0 || flags & MODIFY == 0 {
            return h::PARAMETER;
        }
        if flags & REGISTER == 0 {
            self.shared.set_process_table(0, 0);
            return h::SUCCESS;
        }
        if flags & RADIX == 0 || !self.cfg.cpu.radix {
            return h::PARAMETER;
        }
        if base & 0xfff != 0 || base >> 60 != 0 {
            return h::P2;
        }
        if page_size != 0 {
            return h::P3;
        }
        if table_size > 24 {
            return h::P4;
        }
        self.shared.set_process_table(base, table_size);
        self.shared.flush_all_tlbs();
        h::SUCCESS
    }

    /// KVMPPC_H_UPDATE_DT: the guest hands back its tree; kept if it is a
    /// valid blob no more than twice the size of ours.
    fn h_update_dt(&self, addr: u64) -> i64 {
        let mut hdr = [0u8; 8];
        if !self.ram.read(addr, &mut hdr) {
            return h::PARAMETER;
        }
        let size = u64::from(u32::from_be_bytes(hdr[4..8].try_into().expect("4 bytes")));
        let limit = 2 * self.inner.lock().fdt.len() as u64;
        if size > limit || size < 8 {
            return h::PARAMETER;
        }
        let mut blob = vec![0u8; size as usize];
        if !self.ram.read(addr, &mut blob) || fdt::Fdt::from_dtb(&blob).is_err() {
            return h::PARAMETER;
        }
        self.inner.lock().fdt = blob;
        h::SUCCESS
    }
}

fn random_u64() -> Option<u64> {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .ok()?;
    Some(u64::from_ne_bytes(b))
}

/// Whether vCPU `slot` counts as running for CAS (neither stopped nor
/// idle in H_CEDE, as QEMU's `halted` test).
pub(crate) fn is_running(slot: &VcpuSlot) -> bool {
    !slot.stopped.load(Ordering::Acquire) && !slot.idle.load(Ordering::Acquire)
}
