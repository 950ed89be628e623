//! The vCPU thread: runs the interpreter and serves its exits (hcalls,
//! MMIO, idle), parks when the machine pauses, waits while stopped.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ppc_cpu::{MmioRequest, MmioResult, Vcpu, VcpuExit};
use spapr_irq::Caller;

use crate::control::ExitReason;
use crate::halt_poll::{HaltPoll, IdleEnd};
use crate::hcall::HcallOutcome;
use crate::machine::{Machine, VcpuSlot};

/// Instructions per interpreter run: bounds how long a pause or a stop
/// request waits for a busy vCPU.
const RUN_BUDGET: u64 = 200_000;
/// Longest idle sleep without an event (re-checks the decrementer).
const IDLE_SLICE: Duration = Duration::from_millis(50);

/// The body of vCPU thread `i`.
pub(crate) fn run_vcpu(m: &Machine, i: usize) {
    let slot = &m.vcpus[i];
    let mut modes_seen = u64::MAX;
    let mut poll = HaltPoll::new();
    loop {
        if m.control.pause_requested() {
            m.control.park();
        }
        if m.control.stop_requested() {
            break;
        }
        if slot.stopped.load(Ordering::Acquire) {
            wait_for_start(slot);
            continue;
        }
        let mut cpu = slot.cpu.lock();
        let epoch = m.modes_epoch.load(Ordering::Acquire);
        if epoch != modes_seen {
            modes_seen = epoch;
            m.apply_modes(&mut cpu);
        }
        let exit = cpu.run(RUN_BUDGET);
        slot.icount.store(cpu.instructions(), Ordering::Relaxed);
        match exit {
            VcpuExit::BudgetExhausted => check_hang(m, slot, &cpu),
            VcpuExit::Hcall { opcode, args } => match m.hcall(slot, &mut cpu, opcode, &args) {
                HcallOutcome::Return => {}
                HcallOutcome::Cede => {
                    m.vpa_dispatch_tick(slot);
                    idle(m, slot, &mut cpu, &mut poll);
                    m.vpa_dispatch_tick(slot);
                }
                HcallOutcome::Stop => {
                    slot.run.lock().stopped = true;
                    slot.stopped.store(true, Ordering::Release);
                }
            },
            VcpuExit::Mmio(req) => {
                let result = mmio(m, slot, &cpu, &req);
                cpu.complete_mmio(&req, result);
            }
            VcpuExit::Idle => idle(m, slot, &mut cpu, &mut poll),
            VcpuExit::Unimplemented { nip, word } => {
                let msg = format!(
                    "vCPU {}: unimplemented instruction 0x{word:08x} at 0x{nip:x}",
                    slot.index
                );
                drop(cpu);
                m.request_exit(ExitReason::Error(msg));
                wait_stop(m);
            }
            VcpuExit::Checkstop => {
                let msg = format!(
                    "vCPU {}: machine check with MSR[ME]=0, checkstop",
                    slot.index
                );
                drop(cpu);
                m.request_exit(ExitReason::Error(msg));
                wait_stop(m);
            }
        }
    }
    m.control.thread_ended();
}

/// `b .` (a branch to itself), in either byte order.
const BRANCH_TO_SELF: u32 = 0x4800_0000;

/// A vCPU that branches to itself in real mode with MSR[EE] = 0 can never
/// leave: no external or decrementer interrupt is taken, and the loop
/// reads no memory another vCPU could change. When every vCPU is either
/// stopped or spinning so, the guest is hung and the machine ends with a
/// VM-level failure instead of spinning the host forever.
fn check_hang(m: &Machine, slot: &VcpuSlot, cpu: &Vcpu) {
    use ppc_cpu::regs::msr;
    let spins = cpu.msr() & (msr::EE | msr::IR) == 0 && {
        let mut w = [0u8; 4];
        m.ram.read(cpu.nip(), &mut w)
            && (u32::from_be_bytes(w) == BRANCH_TO_SELF || u32::from_le_bytes(w) == BRANCH_TO_SELF)
    };
    slot.hung.store(spins, Ordering::Release);
    if spins
        && m.vcpus
            .iter()
            .all(|s| s.hung.load(Ordering::Acquire) || s.stopped.load(Ordering::Acquire))
    {
        m.request_exit(ExitReason::Error(format!(
            "guest hang detected: vCPU {} spins at 0x{:x} with interrupts disabled, every other vCPU is stopped or spinning",
            slot.index,
            cpu.nip()
        )));
    }
}

/// After asking for the exit, a failed vCPU waits to be told to end.
fn wait_stop(m: &Machine) {
    while !m.control.stop_requested() {
        if m.control.pause_requested() {
            m.control.park();
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A stopped vCPU waits for `start-cpu` (or a pause or stop request).
fn wait_for_start(slot: &VcpuSlot) {
    let start = slot.run.lock().start.take();
    match start {
        Some((entry, r3)) => {
            slot.cpu.lock().start(entry, r3);
            slot.run.lock().stopped = false;
            slot.stopped.store(false, Ordering::Release);
        }
        None => {
            slot.inputs.wait(Some(IDLE_SLICE));
        }
    }
}

/// Idle (H_CEDE or `wait`): sleep until an interrupt is pending, `H_PROD`,
/// a pause or stop request, or the decrementer's next event. The vCPU
/// polls for a short adaptive window before it blocks (see
/// [`crate::halt_poll`]).
fn idle(m: &Machine, slot: &VcpuSlot, cpu: &mut Vcpu, poll: &mut HaltPoll) {
    slot.idle.store(true, Ordering::Release);
    let wake = |cpu: &Vcpu| {
        cpu.interrupt_pending() || m.control.pause_requested() || m.control.stop_requested()
    };
    let mut polled = false;
    let mut blocked = None;
    loop {
        if wake(cpu) {
            break;
        }
        {
            let mut run = slot.run.lock();
            if run.prod {
                run.prod = false;
                break;
            }
        }
        if !polled {
            polled = true;
            if poll.poll(|| wake(cpu)) {
                poll.update(IdleEnd::Polled);
                continue;
            }
        }
        let slice = cpu
            .time_to_next_event()
            .map_or(IDLE_SLICE, |d| d.min(IDLE_SLICE));
        if slice.is_zero() {
            break;
        }
        blocked.get_or_insert_with(Instant::now);
        slot.inputs.wait(Some(slice));
    }
    if let Some(since) = blocked {
        poll.update(IdleEnd::Blocked(since.elapsed()));
    }
    slot.idle.store(false, Ordering::Release);
}

/// Serves an MMIO access: the active controller's windows, else nothing
/// answers (a machine check for the guest).
fn mmio(m: &Machine, slot: &VcpuSlot, cpu: &Vcpu, req: &MmioRequest) -> MmioResult {
    let _ = cpu;
    let caller = Caller {
        vcpu: slot.index,
        timebase: m.timebase.read(),
    };
    let r = match req.write {
        None => m
            .irq
            .mmio_read(caller, req.addr, req.size)
            .map(MmioResult::Done),
        Some(v) => m
            .irq
            .mmio_write(caller, req.addr, req.size, v)
            .map(|()| MmioResult::Done(0)),
    };
    match r {
        Ok(res) => res,
        Err(spapr_irq::MmioError::Unmapped(addr)) => {
            tracing::debug!(vcpu = slot.index, addr, "MMIO access to unassigned address");
            MmioResult::Unassigned
        }
        // A bad offset inside a controller window: loads read all-ones and
        // stores are dropped, as QEMU's invalid accesses do.
        Err(spapr_irq::MmioError::Invalid { .. }) => MmioResult::Done(match req.write {
            None => u64::MAX >> (64 - 8 * u32::from(req.size.clamp(1, 8))),
            Some(_) => 0,
        }),
    }
}
