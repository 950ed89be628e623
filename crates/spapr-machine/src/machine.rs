//! The machine: guest RAM, the vCPUs, the interrupt front end, the devices,
//! and their life cycle (create, reset, run, pause, stop).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use ppc_cpu::{CpuShared, SmtCore, Timebase, Vcpu, VcpuWaker};
use spapr_caps::CapId;
use spapr_irq::numbering::{EPOW, HOTPLUG, VIO_BASE};
use spapr_irq::{ControllerConfig, VcpuIrqInputs};

use crate::cas::{OptionVector, OV5_INTC_BYTE, OV5_MMU_BYTE, OV5_MMU_RADIX_300, OV5_XIVE_EXPLOIT};
use crate::config::MachineConfig;
use crate::control::{Control, ExitReason, Request};
use crate::events::EventQueue;
use crate::irq::{FrontEndError, IrqFrontEnd};
use crate::loader::{self, Kernel, Layout, LoadError};
use crate::memory::{GuestRam, RamError};
use crate::nvram::Nvram;
use crate::rtc::Rtc;
use crate::vty::{ConsoleSink, Pulse, Vty};

/// The host's "offer console input again" hook.
type ConsoleDrained = Arc<dyn Fn() + Send + Sync>;

/// First VIO `reg` QEMU hands out.
pub const VIO_REG_BASE: u32 = 0x7100_0000;

/// A boot image and the path it came from (for messages).
#[derive(Debug, Clone, Default)]
pub struct Image {
    /// Path as given on the command line.
    pub path: String,
    /// Contents.
    pub data: Vec<u8>,
}

/// What to boot.
#[derive(Debug, Clone, Default)]
pub struct BootConfig {
    /// `-bios`; the built-in firmware when absent.
    pub firmware: Option<Image>,
    /// `-kernel`.
    pub kernel: Option<Image>,
    /// `-initrd`.
    pub initrd: Option<Image>,
    /// `-append`.
    pub append: String,
}

/// Why a machine could not be created.
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    /// Guest RAM.
    #[error(transparent)]
    Ram(#[from] RamError),
    /// Interrupt controllers.
    #[error(transparent)]
    FrontEnd(#[from] FrontEndError),
    /// A device's interrupt.
    #[error(transparent)]
    Irq(#[from] spapr_irq::IrqError),
    /// Boot images.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Capability checks at reset.
    #[error("{0}")]
    Caps(String),
    /// Device tree.
    #[error("device tree: {0}")]
    Fdt(String),
    /// The in-kernel interrupt controller (`kernel-irqchip`).
    #[error("{0}")]
    Irqchip(String),
}

/// Per-vCPU run state outside the interpreter.
#[derive(Debug, Default)]
pub(crate) struct VcpuRun {
    /// Stopped (secondary not started yet, or after `stop-self`).
    pub stopped: bool,
    /// A `start-cpu` waiting to be taken: (entry, r3).
    pub start: Option<(u64, u64)>,
    /// `H_PROD` arrived.
    pub prod: bool,
    /// Registered VPA address (0 = none).
    pub vpa: u64,
    /// Registered SLB shadow buffer.
    pub slb_shadow: u64,
    /// Registered dispatch trace log.
    pub dtl: u64,
}

/// Partition-wide LPCR modes set by `H_SET_MODE`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Modes {
    pub ile: bool,
    pub ail: u64,
    pub epoch: u64,
}

/// One vCPU as the machine sees it.
pub(crate) struct VcpuSlot {
    pub index: u32,
    pub server: u32,
    pub inputs: Arc<VcpuIrqInputs>,
    pub cpu: Mutex<Vcpu>,
    pub run: Mutex<VcpuRun>,
    /// Whether the vCPU is stopped, readable without the lock.
    pub stopped: AtomicBool,
    /// Whether it is ceded or idle (for `info cpus` and CAS's check).
    pub idle: AtomicBool,
    /// Whether it spins forever: `b .` with interrupts disabled.
    pub hung: AtomicBool,
    /// Guest instructions executed, published by the vCPU thread after each
    /// run of the interpreter (read without the vCPU's lock).
    pub icount: AtomicU64,
}

/// Lets the interrupt line's inputs act as the vCPU's external input.
struct ExtInput(Arc<VcpuIrqInputs>);

impl ppc_cpu::ExternalInterrupt for ExtInput {
    #[inline]
    fn asserted(&self) -> bool {
        self.0.levels() != 0
    }
}

impl VcpuWaker for ExtInput {
    fn wake(&self) {
        self.0.kick();
    }
}

/// Machine state that changes at run time, under one lock (taken by
/// hcalls and RTAS calls that are not on the interrupt hot path).
pub(crate) struct Inner {
    pub ov5_cas: OptionVector,
    pub events: EventQueue,
    pub rtc: Rtc,
    pub fdt: Vec<u8>,
    /// Whether the guest's radix choice at CAS was radix.
    pub radix: bool,
    pub no_reboot: bool,
}

/// The parsed boot images.
pub(crate) struct Boot {
    pub firmware: Vec<u8>,
    pub kernel: Option<Kernel>,
    pub initrd: Option<Vec<u8>>,
    pub layout: Layout,
    pub append: String,
}

/// A pseries machine.
pub struct Machine {
    pub(crate) cfg: MachineConfig,
    pub(crate) ram: GuestRam,
    pub(crate) irq: IrqFrontEnd,
    pub(crate) shared: Arc<CpuShared>,
    pub(crate) timebase: Timebase,
    pub(crate) vcpus: Vec<VcpuSlot>,
    pub(crate) vty: Option<Vty>,
    pub(crate) nvram: Mutex<Nvram>,
    pub(crate) epow_irq: u32,
    pub(crate) phb: crate::phb::Phb,
    pub(crate) hotplug_irq: Option<u32>,
    pub(crate) platform_ov5: OptionVector,
    pub(crate) inner: Mutex<Inner>,
    pub(crate) control: Control,
    pub(crate) boot: Boot,
    pub(crate) logged_hcalls: Mutex<BTreeSet<u64>>,
    /// Called when the guest drained console input the host was refused.
    console_drained: Mutex<Option<ConsoleDrained>>,
    pub(crate) modes: Mutex<Modes>,
    /// Bumped whenever `modes` changes, so vCPU threads notice without
    /// taking its lock.
    pub(crate) modes_epoch: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
    started: AtomicBool,
    irqchip: Mutex<crate::kvm::KernelIrqchipState>,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("type", &self.cfg.machine.name)
            .field("vcpus", &self.vcpus.len())
            .field("irq", &self.irq)
            .finish()
    }
}

/// The backends a configuration's capabilities enable, from the registry.
pub fn enabled_backends(
    cfg: &MachineConfig,
) -> Result<Vec<&'static spapr_irq::Backend>, FrontEndError> {
    let mut out = Vec::new();
    for (cap, name) in [(CapId::Xics, "xics"), (CapId::Xive, "xive")] {
        if cfg.caps.is_on(cap) {
            let b = spapr_irq::backend(name)
                .ok_or_else(|| FrontEndError::NotRegistered(name.into()))?;
            out.push(b);
        }
    }
    Ok(out)
}

impl Machine {
    /// Builds the machine: RAM, controllers from the registry, vCPUs with
    /// their presenters, devices with their interrupts, boot images; then
    /// resets it. vCPU threads start with [`Machine::start`].
    pub fn new(
        cfg: MachineConfig,
        boot: BootConfig,
        console: Option<ConsoleSink>,
    ) -> Result<Arc<Self>, MachineError> {
        let irqchip = crate::kvm::KernelIrqchipState::new(
            cfg.accel,
            cfg.kernel_irqchip,
            crate::kvm::KvmHost::default(),
        )
        .map_err(|e| MachineError::Irqchip(e.to_string()))?;
        let ram = GuestRam::new(cfg.ram_size)?;
        let legacy = cfg.machine.flags.legacy_irq_allocation;
        let ctl_cfg = ControllerConfig {
            nr_xirqs: cfg.machine.nr_xirqs,
            nr_servers: cfg.nr_servers(),
            guest_memory: ram.mmap().clone(),
        };
        let irq = IrqFrontEnd::new(&enabled_backends(&cfg)?, &ctl_cfg, legacy)?;

        // Boot images first: a bad kernel must be reported before anything
        // else is built, as QEMU does.
        let kernel = match &boot.kernel {
            Some(img) => Some(loader::parse_kernel(&img.path, &img.data)?),
            None => None,
        };
        let firmware = boot
            .firmware
            .as_ref()
            .map_or_else(|| loader::BUILTIN_FIRMWARE.to_vec(), |i| i.data.clone());
        if firmware.len() as u64 > loader::KERNEL_LOAD_ADDR {
            let path = boot.firmware.as_ref().map_or("", |i| i.path.as_str());
            return Err(LoadError::Firmware(path.into()).into());
        }
        let layout = loader::layout(
            cfg.ram_size,
            kernel.as_ref(),
            boot.initrd.as_ref().map(|i| i.data.len() as u64),
        )?;

        // Event sources, then VIO devices, in QEMU's creation order.
        let epow_irq = irq.claim_device(EPOW, false)?;
        let hotplug_irq = if cfg.machine.flags.modern_hotplug_events {
            Some(irq.claim_device(HOTPLUG, false)?)
        } else {
            None
        };
        let mut next_reg = VIO_REG_BASE;
        let vty = if cfg.console {
            let reg = next_reg;
            next_reg += 1;
            let num = irq.claim_device(vio_irq(reg), false)?;
            Some(Vty::new(reg, num, console, true))
        } else {
            None
        };
        let nvram_reg = next_reg;
        let nvram_irq = irq.claim_device(vio_irq(nvram_reg), false)?;
        // The PHB comes after the VIO devices (it matters for the legacy
        // allocation of pseries-3.0 and older).
        let phb = crate::phb::Phb::new(&irq)?;

        let shared = CpuShared::new(ram.mmap());
        ram.attach_code_cache(Arc::clone(&shared));
        let timebase = Timebase::new();
        let mut vcpus = Vec::with_capacity(cfg.smp.cpus as usize);
        let mut cores: Vec<Arc<SmtCore>> = Vec::new();
        for index in 0..cfg.smp.cpus {
            let server = cfg.server_of(index);
            let inputs = VcpuIrqInputs::new();
            let mut cpu = Vcpu::new(
                cfg.cpu,
                ram.mmap(),
                Arc::clone(&shared),
                timebase.clone(),
                server,
            );
            let ext = Arc::new(ExtInput(Arc::clone(&inputs)));
            cpu.set_external_interrupt(ext.clone());
            let tir = index % cfg.smp.threads;
            if tir == 0 {
                cores.push(SmtCore::new(cfg.smp.threads));
            }
            let core = Arc::clone(cores.last().expect("core pushed"));
            core.set_waker(tir, ext);
            cpu.attach_core(core, tir);
            irq.cpu_intc_create(index, server, server, &inputs)?;
            vcpus.push(VcpuSlot {
                index,
                server,
                inputs,
                cpu: Mutex::new(cpu),
                run: Mutex::new(VcpuRun::default()),
                stopped: AtomicBool::new(index != 0),
                idle: AtomicBool::new(false),
                hung: AtomicBool::new(false),
                icount: AtomicU64::new(0),
            });
        }

        let platform_ov5 = platform_ov5(&cfg, irq.has("xive"));

        let m = Arc::new(Self {
            ram,
            irq,
            shared,
            timebase,
            vcpus,
            vty,
            nvram: Mutex::new(Nvram::new(nvram_reg, nvram_irq)),
            epow_irq,
            phb,
            hotplug_irq,
            platform_ov5,
            inner: Mutex::new(Inner {
                ov5_cas: OptionVector::default(),
                events: EventQueue::default(),
                rtc: Rtc::new(cfg.rtc_base),
                fdt: Vec::new(),
                radix: false,
                no_reboot: false,
            }),
            control: Control::default(),
            boot: Boot {
                firmware,
                kernel,
                initrd: boot.initrd.map(|i| i.data),
                layout,
                append: boot.append,
            },
            logged_hcalls: Mutex::new(BTreeSet::new()),
            console_drained: Mutex::new(None),
            modes: Mutex::new(Modes::default()),
            modes_epoch: AtomicU64::new(0),
            threads: Mutex::new(Vec::new()),
            started: AtomicBool::new(false),
            irqchip: Mutex::new(irqchip),
            cfg,
        });
        m.reset()?;
        Ok(m)
    }

    /// The configuration.
    pub fn config(&self) -> &MachineConfig {
        &self.cfg
    }

    /// Guest RAM.
    pub fn ram(&self) -> &GuestRam {
        &self.ram
    }

    /// The interrupt front end.
    pub fn irq(&self) -> &IrqFrontEnd {
        &self.irq
    }

    /// The EPOW event source's interrupt number.
    pub fn epow_irq(&self) -> u32 {
        self.epow_irq
    }

    /// The vty, if present.
    pub fn vty(&self) -> Option<&Vty> {
        self.vty.as_ref()
    }

    /// Number of vCPUs.
    pub fn nr_vcpus(&self) -> u32 {
        self.vcpus.len() as u32
    }

    /// `-no-reboot`: a guest reboot ends the machine instead.
    pub fn set_no_reboot(&self, on: bool) {
        self.inner.lock().no_reboot = on;
    }

    /// The negotiated OV5 byte 23 (0 before CAS).
    pub fn ov5_intc(&self) -> u8 {
        self.inner.lock().ov5_cas.byte(OV5_INTC_BYTE)
    }

    /// The device tree the guest was (or will be) given.
    pub fn fdt(&self) -> Vec<u8> {
        self.inner.lock().fdt.clone()
    }

    /// Machine reset (QEMU's `spapr_machine_reset`): capability checks,
    /// controllers back to their reset state with XICS active in dual
    /// mode, devices, vCPUs (CPU 0 at 0x100 with r3 = FDT, the others
    /// stopped), images copied again, the device tree rebuilt. The vCPU
    /// threads must be paused or not started.
    pub fn reset(&self) -> Result<(), MachineError> {
        match self.cfg.caps.apply_checks() {
            Ok(warnings) => {
                for w in warnings {
                    tracing::warn!("{w}");
                }
            }
            Err(f) => {
                for w in &f.warnings {
                    tracing::warn!("{w}");
                }
                let hint = f.error.hint().map(|h| format!("\n{h}")).unwrap_or_default();
                return Err(MachineError::Caps(format!("{}{hint}", f.error)));
            }
        }
        let backend = self.irq.reset()?;
        self.connect_irqchip(backend)?;
        {
            let mut inner = self.inner.lock();
            inner.ov5_cas = OptionVector::default();
            inner.events.clear();
            inner.radix = false;
        }
        // Images.
        if !self.ram.write(0, &self.boot.firmware) {
            return Err(LoadError::Layout("firmware does not fit in RAM".into()).into());
        }
        if let Some(k) = &self.boot.kernel {
            loader::copy_kernel(&self.ram, k)?;
        }
        if let (Some(data), Some((base, _))) = (&self.boot.initrd, self.boot.layout.initrd) {
            if !self.ram.write(base, data) {
                return Err(LoadError::Layout("initial ram disk does not fit".into()).into());
            }
        }
        self.shared.set_process_table(0, 0);
        self.timebase.set(0);
        {
            let mut modes = self.modes.lock();
            *modes = Modes {
                epoch: modes.epoch + 1,
                ..Modes::default()
            };
            self.modes_epoch.store(modes.epoch, Ordering::Release);
        }
        for slot in &self.vcpus {
            let mut cpu = slot.cpu.lock();
            cpu.reset();
            // cap-large-decr decides LPCR[LD] (QEMU's cpu_apply).
            if !self.cfg.caps.is_on(CapId::LargeDecr) {
                let lpcr = cpu.lpcr() & !ppc_cpu::regs::lpcr::LD;
                cpu.set_lpcr(lpcr);
            }
            self.irq.cpu_intc_reset(slot.index);
            let mut run = slot.run.lock();
            *run = VcpuRun {
                stopped: slot.index != 0,
                ..VcpuRun::default()
            };
            slot.stopped.store(slot.index != 0, Ordering::Release);
            slot.idle.store(false, Ordering::Release);
            slot.hung.store(false, Ordering::Release);
            if slot.index == 0 {
                cpu.set_gpr(3, self.boot.layout.fdt);
            }
        }
        self.rebuild_fdt()?;
        Ok(())
    }

    /// Makes `backend` the in-kernel controller if `kernel-irqchip` asks for
    /// it (under KVM only), printing QEMU's fallback warning when it cannot
    /// be had and it was only allowed.
    pub(crate) fn connect_irqchip(
        &self,
        backend: &'static spapr_irq::Backend,
    ) -> Result<(), MachineError> {
        let mut chip = self.irqchip.lock();
        match chip.activate(backend) {
            Ok(warning) => {
                if let Some(w) = warning {
                    tracing::warn!("{}", w.message());
                    tracing::warn!("{}", w.hint());
                }
                self.irq.set_in_kernel(chip.in_kernel());
                Ok(())
            }
            Err(e) => Err(MachineError::Irqchip(e.to_string())),
        }
    }

    /// Activates the controller the negotiated OV5 byte 23 selects, in the
    /// kernel if configured so.
    pub(crate) fn activate_intc(&self, ov5_byte23: u8) -> Result<(), MachineError> {
        let backend = self.irq.update_active(ov5_byte23)?;
        self.connect_irqchip(backend)
    }

    /// Builds the device tree for the current state and writes it into
    /// guest RAM at its boot address.
    pub(crate) fn rebuild_fdt(&self) -> Result<(), MachineError> {
        let blob = crate::devtree::build(self).map_err(|e| MachineError::Fdt(e.to_string()))?;
        if blob.len() as u64 > loader::FDT_MAX_SIZE || !self.ram.write(self.boot.layout.fdt, &blob)
        {
            return Err(MachineError::Fdt(format!(
                "device tree of {} bytes does not fit",
                blob.len()
            )));
        }
        self.inner.lock().fdt = blob;
        Ok(())
    }

    /// Device input: raises or lowers interrupt `irq` on the active
    /// controller.
    #[inline]
    pub fn set_irq(&self, irq: u32, level: bool) {
        self.irq.set_irq(irq, level);
    }

    /// An edge on an MSI-type source (QEMU's `qemu_irq_pulse`).
    pub fn pulse_irq(&self, irq: u32) {
        self.irq.set_irq(irq, true);
        self.irq.set_irq(irq, false);
    }

    /// Console input from the host: buffered by the vty, which raises its
    /// interrupt when its buffer was empty. Returns how many bytes it took
    /// (all of them while its bounded backlog has room; none without a
    /// vty); see [`Machine::set_console_drained`] for the rest.
    pub fn console_input(&self, bytes: &[u8]) -> usize {
        let Some(v) = &self.vty else { return 0 };
        let (taken, pulse) = v.push_input(bytes);
        if pulse == Pulse(true) {
            self.pulse_irq(v.irq);
        }
        taken
    }

    /// How many bytes [`Machine::console_input`] would take now.
    pub fn console_space(&self) -> usize {
        self.vty.as_ref().map_or(0, |v| v.space())
    }

    /// What to call, on a vCPU thread and with no machine lock held, when
    /// the guest has read enough of the console backlog after input was
    /// refused: the host should offer its pending input again.
    pub fn set_console_drained(&self, f: impl Fn() + Send + Sync + 'static) {
        *self.console_drained.lock() = Some(Arc::new(f));
    }

    pub(crate) fn console_drained(&self) {
        let f = self.console_drained.lock().clone();
        if let Some(f) = f {
            f();
        }
    }

    /// What the guest printed on the vty so far.
    pub fn transcript(&self) -> Vec<u8> {
        self.vty.as_ref().map(Vty::transcript).unwrap_or_default()
    }

    /// A powerdown request (QMP `system_powerdown`): queues an EPOW event
    /// and pulses the EPOW interrupt.
    pub fn powerdown(&self) {
        let queued = {
            let mut inner = self.inner.lock();
            let now = inner.rtc.now();
            inner.events.push_powerdown(&now)
        };
        if queued {
            self.pulse_irq(self.epow_irq);
        } else {
            tracing::warn!("EPOW event queue full, powerdown request dropped");
        }
    }

    /// Asks the main loop for a machine reset.
    pub fn request_reset(&self) {
        self.control.request(Request::Reset);
    }

    /// Asks the main loop to stop the machine for `reason`.
    pub fn request_exit(&self, reason: ExitReason) {
        self.control.request(Request::Exit(reason));
        self.kick_all();
    }

    pub(crate) fn kick_all(&self) {
        for s in &self.vcpus {
            s.inputs.kick();
        }
    }

    /// Starts the vCPU threads; with `paused`, they wait for
    /// [`Machine::resume`] (`-S`).
    pub fn start(self: &Arc<Self>, paused: bool) {
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        if paused {
            self.control.pause(|| {});
        }
        let mut threads = self.threads.lock();
        for i in 0..self.vcpus.len() {
            let m = Arc::clone(self);
            self.control.thread_started();
            let h = std::thread::Builder::new()
                .name(format!("vcpu{i}"))
                .spawn(move || crate::vcpu::run_vcpu(&m, i))
                .expect("spawning a vCPU thread");
            threads.push(h);
        }
    }

    /// Pauses every vCPU (monitor `stop`, migration).
    pub fn pause(&self) {
        self.control.pause(|| self.kick_all());
    }

    /// Resumes the vCPUs (monitor `cont`).
    pub fn resume(&self) {
        self.control.resume();
    }

    /// Whether the vCPUs are paused.
    pub fn is_paused(&self) -> bool {
        self.control.is_paused()
    }

    /// The main loop: carries out resets and returns when the machine
    /// stops for good, with the reason. The vCPU threads have ended when it
    /// returns.
    pub fn run_until_exit(&self) -> ExitReason {
        loop {
            match self.control.next_request(Duration::from_millis(100)) {
                None => {}
                Some(Request::Reset) => {
                    if self.inner.lock().no_reboot {
                        self.finish();
                        return ExitReason::Reboot;
                    }
                    let was_paused = self.is_paused();
                    self.pause();
                    if let Err(e) = self.reset() {
                        self.finish();
                        return ExitReason::Error(e.to_string());
                    }
                    if !was_paused {
                        self.resume();
                    }
                }
                Some(Request::Exit(reason)) => {
                    self.finish();
                    return reason;
                }
            }
        }
    }

    fn finish(&self) {
        self.pause();
        self.control.request_stop();
        self.resume();
        self.kick_all();
        for h in self.threads.lock().drain(..) {
            let _ = h.join();
        }
    }

    /// `info pic`.
    pub fn info_pic(&self) -> String {
        let mut s = String::new();
        let _ = self.irq.print_info(&mut s);
        s
    }

    /// `info cpus`, in QEMU's layout.
    pub fn info_cpus(&self) -> String {
        let mut s = String::new();
        for (i, slot) in self.vcpus.iter().enumerate() {
            let nip = slot.cpu.try_lock().map(|c| c.nip());
            let mark = if i == 0 { "*" } else { " " };
            let _ = match nip {
                Some(nip) => writeln!(
                    s,
                    "{mark} CPU #{i}: nip=0x{nip:016x} thread_id={}{}",
                    slot.server,
                    if slot.stopped.load(Ordering::Acquire) {
                        " (halted)"
                    } else {
                        ""
                    }
                ),
                None => writeln!(s, "{mark} CPU #{i}: (running) thread_id={}", slot.server),
            };
        }
        s
    }

    /// `info capabilities`: the effective caps and where each value came
    /// from.
    pub fn info_capabilities(&self) -> String {
        self.cfg.caps.info_text()
    }

    /// Runs hypercall `opcode` with `args` (r4..r12) as if vCPU `index` had
    /// issued it, and returns r3..r12 afterwards; `None` if there is no such
    /// vCPU. For tests and fuzzers driving the machine without guest code:
    /// an H_CEDE returns at once instead of idling. The vCPU must not be
    /// running (its thread holds it while it runs).
    pub fn call_hcall(&self, index: u32, opcode: u64, args: [u64; 9]) -> Option<[u64; 10]> {
        let slot = self.vcpus.get(index as usize)?;
        let mut cpu = slot.cpu.lock();
        if self.hcall(slot, &mut cpu, opcode, &args) == crate::hcall::HcallOutcome::Stop {
            slot.run.lock().stopped = true;
            slot.stopped.store(true, Ordering::Release);
        }
        let mut out = [0u64; 10];
        for (i, r) in out.iter_mut().enumerate() {
            *r = cpu.gpr(3 + i);
        }
        Some(out)
    }

    /// An MMIO load (`write` = `None`) or store by vCPU `index` at a
    /// guest-physical address outside RAM, as the interpreter would issue
    /// it; `None` when nothing answers there. For tests and fuzzers.
    pub fn call_mmio(&self, index: u32, addr: u64, size: u8, write: Option<u64>) -> Option<u64> {
        let caller = spapr_irq::Caller {
            vcpu: index,
            timebase: self.timebase.read(),
        };
        match write {
            None => self.irq.mmio_read(caller, addr, size).ok(),
            Some(v) => self.irq.mmio_write(caller, addr, size, v).ok().map(|()| 0),
        }
    }

    /// Guest instructions executed by every vCPU so far (as of their last
    /// return from the interpreter: at most a few milliseconds behind).
    pub fn instructions(&self) -> u64 {
        self.vcpus
            .iter()
            .map(|s| s.icount.load(Ordering::Relaxed))
            .sum()
    }

    /// Whether the machine stopped for good.
    pub fn is_finished(&self) -> bool {
        self.control.stop_requested()
    }

    /// Interrupts each controller delivered to each vCPU (and the guest
    /// accepted), by backend name, vCPU index order.
    pub fn delivered(&self) -> Vec<(&'static str, Vec<u64>)> {
        self.irq
            .controllers()
            .map(|(b, c)| {
                (
                    b.name,
                    (0..self.nr_vcpus()).map(|i| c.delivered(i)).collect(),
                )
            })
            .collect()
    }

    /// The `delivered` counts as one line per controller, for a run summary.
    pub fn delivery_summary(&self) -> String {
        let mut s = String::new();
        for (name, counts) in self.delivered() {
            let total: u64 = counts.iter().sum();
            let per: Vec<String> = counts
                .iter()
                .enumerate()
                .map(|(i, n)| format!("cpu{i} {n}"))
                .collect();
            let _ = writeln!(
                s,
                "{name}: {total} interrupts delivered ({})",
                per.join(", ")
            );
        }
        let per: Vec<String> = self
            .vcpus
            .iter()
            .map(|v| format!("cpu{} {}", v.index, v.icount.load(Ordering::Relaxed)))
            .collect();
        let _ = writeln!(
            s,
            "guest instructions: {} ({})",
            self.instructions(),
            per.join(", ")
        );
        s
    }
}

/// What the platform supports in option vector 5 (QEMU's `spapr->ov5`):
/// dynamic reconfiguration memory, FORM1 affinity, dedicated hot-plug
/// events, DRMEM v2, radix with GTSE on an ISA 3.00 CPU, and XIVE
/// exploitation when a XIVE controller exists. CAS intersects it with
/// what the guest asks.
fn platform_ov5(cfg: &MachineConfig, xive: bool) -> OptionVector {
    let mut v = OptionVector::default();
    v.set_byte(2, 0x20);
    v.set_byte(5, 0x80);
    if cfg.machine.flags.modern_hotplug_events {
        v.set_byte(6, 0x04);
    }
    v.set_byte(22, 0x80);
    let isa = cfg.max_cpu_compat.unwrap_or(cfg.cpu.isa).min(cfg.cpu.isa);
    if cfg.cpu.radix && isa >= ppc_cpu::IsaLevel::V3_00 {
        v.set_byte(OV5_MMU_BYTE, OV5_MMU_RADIX_300);
        v.set_byte(26, 0x40);
    }
    if xive {
        v.set_byte(OV5_INTC_BYTE, OV5_XIVE_EXPLOIT);
    }
    v
}

/// The interrupt number of the VIO device at `reg` (pseries-3.1 and later;
/// legacy machines take the next free one instead, see
/// [`IrqFrontEnd::claim_device`]).
fn vio_irq(reg: u32) -> u32 {
    let n = spapr_irq::numbering::vio_irq(reg);
    debug_assert!(n >= VIO_BASE);
    n
}
