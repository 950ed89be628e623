//! From machine version, CPU, accelerator and command line to the effective
//! capabilities, remembering where each value came from.

use std::fmt;

use crate::cap::{CapId, CapSet, CAP_COUNT};
use crate::cpu::{Accel, CpuInfo, IsaLevel};
use crate::error::{CapError, CheckFailure};
use crate::icmode::IcModeState;
use crate::machines::MachineType;
use crate::settings::CapSettings;
use crate::value::format_value;
use crate::version::MachineVersion;

/// What the capabilities are resolved and checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapContext {
    /// The vCPU model (and `max-cpu-compat`).
    pub cpu: CpuInfo,
    /// The accelerator.
    pub accel: Accel,
    /// Threads per core (`-smp threads=`), for the nested-HV check.
    pub smp_threads: u32,
}

impl CapContext {
    /// TCG, one thread per core.
    pub fn tcg(cpu: CpuInfo) -> Self {
        CapContext {
            cpu,
            accel: Accel::Tcg,
            smp_threads: 1,
        }
    }
}

/// Where an effective value came from (for `info capabilities`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The machine version's default.
    Default,
    /// The machine version's default, lowered because the CPU (or
    /// `max-cpu-compat`) cannot do it; also `dual` turned into `xics` below
    /// POWER9.
    CpuAdjusted,
    /// Computed from the accelerator (hpt-max-page-size on ≤ 2.12).
    Computed,
    /// Set with `cap-X=` on the command line.
    CommandLine,
    /// Set through `ic-mode=` (cap-xics, cap-xive).
    IcMode,
}

impl Origin {
    /// Short text: `default`, `cpu-adjusted`, `computed`, `command line`,
    /// `ic-mode`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Origin::Default => "default",
            Origin::CpuAdjusted => "cpu-adjusted",
            Origin::Computed => "computed",
            Origin::CommandLine => "command line",
            Origin::IcMode => "ic-mode",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The defaults of `machine` adjusted for `cpu` (QEMU's
/// `default_caps_with_cpu`, plus cap-xive off below POWER9 as the 2019
/// proposal had it), with where each value came from.
pub fn defaults_with_origin(
    machine: &MachineType,
    cpu: &CpuInfo,
    accel: &Accel,
) -> (CapSet, [Origin; CAP_COUNT]) {
    let mut caps = machine.class_caps();
    let mut origin = [Origin::Default; CAP_COUNT];
    let mut lower = |caps: &mut CapSet, cap: CapId, value: u8| {
        if caps[cap] != value {
            caps[cap] = value;
            origin[cap.index()] = Origin::CpuAdjusted;
        }
    };
    if !cpu.check_compat(IsaLevel::V3_10) {
        lower(&mut caps, CapId::Dawr1, 0);
    }
    if !cpu.check_compat(IsaLevel::V3_00) {
        lower(&mut caps, CapId::LargeDecr, 0);
        lower(&mut caps, CapId::Xive, 0);
    }
    if !cpu.check_compat(IsaLevel::V2_07) {
        lower(&mut caps, CapId::Htm, 0);
        lower(&mut caps, CapId::Cfpc, 0);
        lower(&mut caps, CapId::AilMode3, 0);
    }
    if !cpu.check_compat(IsaLevel::V2_06Plus) {
        lower(&mut caps, CapId::Sbbc, 0);
    }
    if !cpu.check_compat(IsaLevel::V2_06) {
        lower(&mut caps, CapId::Vsx, 0);
        lower(&mut caps, CapId::Dfp, 0);
        lower(&mut caps, CapId::Ibs, 0);
    }
    if machine.class_default(CapId::HptMaxPageSize).is_none() {
        caps[CapId::HptMaxPageSize] = match accel {
            Accel::Kvm(k) if k.hpt_needs_host_contiguous_pages => k.min_ram_page_shift,
            _ => 34,
        };
        origin[CapId::HptMaxPageSize.index()] = Origin::Computed;
    }
    (caps, origin)
}

/// QEMU's `default_caps_with_cpu`: the defaults of `machine` for `cpu`.
pub fn default_caps_with_cpu(machine: &MachineType, cpu: &CpuInfo, accel: &Accel) -> CapSet {
    defaults_with_origin(machine, cpu, accel).0
}

/// The interrupt-controller rules (machine init): legacy machines keep XICS
/// only; at least one controller; XIVE needs POWER9. Returns the cap-xive
/// value to use (dual below POWER9 falls back to XICS, as QEMU does).
pub(crate) fn check_intc(legacy: bool, cpu: &CpuInfo, caps: &CapSet) -> Result<u8, CheckFailure> {
    let (xics, xive) = (caps.is_on(CapId::Xics), caps.is_on(CapId::Xive));
    if legacy && !xics {
        return Err(CheckFailure::LegacyNeedsXics);
    }
    if legacy && xive {
        return Err(CheckFailure::LegacyCannotXive);
    }
    if !xics && !xive {
        return Err(CheckFailure::NoInterruptController);
    }
    if xive && !cpu.check_compat(IsaLevel::V3_00) {
        if !xics {
            return Err(CheckFailure::XiveOnlyNeedsPower9);
        }
        return Ok(0);
    }
    Ok(caps[CapId::Xive])
}

/// The capabilities a machine runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveCaps {
    machine: MachineVersion,
    legacy: bool,
    ctx: CapContext,
    def: CapSet,
    eff: CapSet,
    origin: [Origin; CAP_COUNT],
    cmd_line: [bool; CAP_COUNT],
}

/// Resolves the effective capabilities (QEMU's `spapr_caps_init` plus the
/// `ic-mode` alias and `spapr_irq_check`): defaults of the version adjusted
/// for the CPU, then the command line, then `ic-mode`; contradictions and
/// impossible interrupt-controller choices are errors.
pub fn resolve(
    machine: &MachineType,
    ctx: &CapContext,
    settings: &CapSettings,
) -> Result<EffectiveCaps, CapError> {
    let (def, mut origin) = defaults_with_origin(machine, &ctx.cpu, &ctx.accel);
    let mut eff = def;
    let mut cmd_line = [false; CAP_COUNT];
    for cap in CapId::ALL {
        if let Some(v) = settings.cap(cap) {
            eff[cap] = v;
            origin[cap.index()] = Origin::CommandLine;
            cmd_line[cap.index()] = true;
        }
    }
    if let Some(mode) = settings.ic_mode() {
        for cap in [CapId::Xics, CapId::Xive] {
            let mode_value = mode.cap_value(cap).expect("xics/xive");
            match settings.cap(cap) {
                Some(v) if v != mode_value => {
                    return Err(CapError::IcModeConflict {
                        ic_mode: mode.as_str(),
                        cap: cap.name(),
                        value: if v == 0 { "off" } else { "on" },
                    })
                }
                Some(_) => {}
                None => {
                    eff[cap] = mode_value;
                    origin[cap.index()] = Origin::IcMode;
                    cmd_line[cap.index()] = true;
                }
            }
        }
    }
    let legacy = !machine.ic_mode_settable();
    let xive = check_intc(legacy, &ctx.cpu, &eff)?;
    if xive != eff[CapId::Xive] {
        eff[CapId::Xive] = xive;
        origin[CapId::Xive.index()] = Origin::CpuAdjusted;
    }
    Ok(EffectiveCaps {
        machine: machine.version,
        legacy,
        ctx: ctx.clone(),
        def,
        eff,
        origin,
        cmd_line,
    })
}

/// One line of `info capabilities`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapReport {
    /// The capability.
    pub cap: CapId,
    /// Effective value.
    pub value: u8,
    /// Default for this version and CPU.
    pub default: u8,
    /// Where the value came from.
    pub origin: Origin,
}

impl fmt::Display for CapReport {
    /// `cap-cfpc=broken (command line, default workaround)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={} ({}",
            self.cap,
            format_value(self.cap, self.value),
            self.origin
        )?;
        if self.value != self.default {
            write!(f, ", default {}", format_value(self.cap, self.default))?;
        }
        f.write_str(")")
    }
}

impl EffectiveCaps {
    /// The machine version they were resolved for.
    pub fn machine(&self) -> MachineVersion {
        self.machine
    }

    /// The CPU, accelerator and threads they were resolved for.
    pub fn context(&self) -> &CapContext {
        &self.ctx
    }

    /// Effective value of `cap`.
    pub fn get(&self, cap: CapId) -> u8 {
        self.eff[cap]
    }

    /// Whether `cap` is on (non-zero).
    pub fn is_on(&self, cap: CapId) -> bool {
        self.eff.is_on(cap)
    }

    /// Every effective value (QEMU's `eff`).
    pub fn values(&self) -> CapSet {
        self.eff
    }

    /// The defaults for this version and CPU (QEMU's `def`).
    pub fn defaults(&self) -> CapSet {
        self.def
    }

    /// Where the value of `cap` came from.
    pub fn origin(&self, cap: CapId) -> Origin {
        self.origin[cap.index()]
    }

    /// Whether `cap` was set on the command line (directly or by `ic-mode`).
    pub fn set_on_command_line(&self, cap: CapId) -> bool {
        self.cmd_line[cap.index()]
    }

    /// What `ic-mode` reads.
    pub fn ic_mode(&self) -> IcModeState {
        IcModeState::of(self.legacy, &self.eff).expect("resolve keeps a controller on")
    }

    /// Whether the machine uses the legacy XICS backend (≤ pseries-3.0).
    pub fn is_legacy(&self) -> bool {
        self.legacy
    }

    /// The lines of `info capabilities`, in table order.
    pub fn report(&self) -> Vec<CapReport> {
        CapId::ALL
            .into_iter()
            .map(|cap| CapReport {
                cap,
                value: self.eff[cap],
                default: self.def[cap],
                origin: self.origin[cap.index()],
            })
            .collect()
    }

    /// `info capabilities` as text: the machine, the CPU and one line per
    /// capability.
    pub fn info_text(&self) -> String {
        let mut out = format!(
            "machine {} (ic-mode {}), cpu {} (ISA {}), accel {}\n",
            self.machine,
            self.ic_mode(),
            self.ctx.cpu.model,
            self.ctx.cpu.compat_level(),
            self.ctx.accel.name()
        );
        for line in self.report() {
            out.push_str(&line.to_string());
            out.push('\n');
        }
        out
    }
}
