//! Machine configuration: what the command line asked for, validated the
//! way QEMU validates it, resolved into what the machine is built from.
//!
//! The `-machine` string goes through spapr-caps (types, `cap-*`,
//! `ic-mode`); this module adds the machine's own properties
//! (`kernel-irqchip`, `max-cpu-compat`, `vsmt`, `dumpdtb`), the CPU model,
//! the `-smp` topology and the RAM size.

use spapr_caps::{
    resolve, Accel, CapContext, CapError, CapSettings, CpuInfo, EffectiveCaps, MachineOptions,
    MachineType,
};

use ppc_cpu::{CpuModel, IsaLevel};

use crate::rtc::CivilTime;

/// Most vCPUs a machine may have (QEMU's pseries `max_cpus` under TCG,
/// and the IPI range of XIVE).
pub const MAX_CPUS: u32 = 4096;
/// Default RAM: 512 MiB, as QEMU.
pub const DEFAULT_RAM: u64 = 512 << 20;
/// Smallest RAM accepted: the guest image, the FDT and the stacks must fit.
pub const MIN_RAM: u64 = 64 << 20;
/// Largest RAM accepted. Guest RAM is a private anonymous mapping (pages
/// are only taken when touched), but a bound keeps a typo from asking the
/// host for terabytes.
pub const MAX_RAM: u64 = 256 << 30;

/// `kernel-irqchip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KernelIrqchip {
    /// Not given: use the in-kernel controller when it can be had, else
    /// fall back to the emulated one with QEMU's warning.
    #[default]
    Allowed,
    /// `on`: required; failing to get it is fatal.
    On,
    /// `off`: emulated.
    Off,
    /// `split`: refused on pseries.
    Split,
}

impl KernelIrqchip {
    fn parse(v: &str) -> Result<Self, ConfigError> {
        match v {
            "on" | "yes" | "true" | "y" => Ok(Self::On),
            "off" | "no" | "false" | "n" => Ok(Self::Off),
            "split" => Ok(Self::Split),
            _ => Err(ConfigError::Message(format!(
                "Parameter 'kernel-irqchip' does not accept value '{v}'"
            ))),
        }
    }
}

/// The accelerator asked with `-accel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccelKind {
    /// This project's interpreter (QEMU's name, `tcg`, is kept).
    #[default]
    Tcg,
    /// KVM (only on a POWER host with /dev/kvm).
    Kvm,
}

/// The `-smp` topology after QEMU's rules filled in what was omitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smp {
    /// vCPUs present at boot.
    pub cpus: u32,
    /// Most vCPUs (present plus hot-pluggable).
    pub maxcpus: u32,
    /// Sockets.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

impl Default for Smp {
    fn default() -> Self {
        Self {
            cpus: 1,
            maxcpus: 1,
            sockets: 1,
            cores: 1,
            threads: 1,
        }
    }
}

impl Smp {
    /// Parses `-smp [cpus=]N[,sockets=S][,dies=1][,cores=C][,threads=T][,maxcpus=M]`
    /// and fills the omitted values the way QEMU does: cores preferred over
    /// sockets, or sockets over cores for machine types before 6.2
    /// (`prefer_sockets`), for machine `type_name`.
    pub fn parse(text: &str, type_name: &str, prefer_sockets: bool) -> Result<Self, ConfigError> {
        let (mut cpus, mut sockets, mut cores, mut threads, mut maxcpus) = (0, 0, 0, 0, 0);
        for (i, item) in text.split(',').enumerate() {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k, v),
                None if i == 0 => ("cpus", item),
                None => {
                    return Err(ConfigError::Message(format!(
                        "Expected '=' after parameter '{item}'"
                    )))
                }
            };
            let n: u32 = value
                .parse()
                .map_err(|_| ConfigError::Message(format!("Parameter '{key}' expects a number")))?;
            match key {
                "cpus" => cpus = n,
                "sockets" => sockets = n,
                "cores" => cores = n,
                "threads" => threads = n,
                "maxcpus" => maxcpus = n,
                "dies" | "clusters" if n == 1 => {}
                "dies" | "clusters" => {
                    return Err(ConfigError::Message(format!(
                        "{key} not supported by this machine's CPU topology"
                    )))
                }
                _ => return Err(ConfigError::Message(format!("Invalid parameter '{key}'"))),
            }
        }
        let given = [cpus, sockets, cores, threads, maxcpus];
        if text.contains("=0")
            || (text.split(',').next() == Some("0") && given[0] == 0 && text != "0")
        {
            return Err(ConfigError::Message(
                "Invalid CPU topology: CPU topology parameters must be greater than zero".into(),
            ));
        }
        let mut maxcpus_v = if maxcpus > 0 { maxcpus } else { cpus };
        if prefer_sockets {
            if sockets == 0 {
                cores = cores.max(1);
                threads = threads.max(1);
                sockets = maxcpus_v / (cores * threads);
            } else if cores == 0 {
                threads = threads.max(1);
                cores = maxcpus_v / (sockets * threads);
            }
        } else if cores == 0 {
            sockets = sockets.max(1);
            threads = threads.max(1);
            cores = (maxcpus_v / (sockets * threads)).max(if maxcpus_v == 0 { 1 } else { 0 });
        } else if sockets == 0 {
            threads = threads.max(1);
            sockets = maxcpus_v / (cores * threads);
        }
        if threads == 0 {
            threads = maxcpus_v / (sockets * cores).max(1);
        }
        let product = sockets as u64 * cores as u64 * threads as u64;
        if maxcpus_v == 0 {
            maxcpus_v = product as u32;
        }
        let cpus_v = if cpus > 0 { cpus } else { maxcpus_v };
        if product != u64::from(maxcpus_v) || product == 0 {
            return Err(ConfigError::Message(format!(
                "Invalid CPU topology: product of the hierarchy must match maxcpus: sockets ({sockets}) * cores ({cores}) * threads ({threads}) != maxcpus ({maxcpus_v})"
            )));
        }
        if maxcpus_v < cpus_v {
            return Err(ConfigError::Message(format!(
                "Invalid CPU topology: maxcpus must be equal to or greater than smp: sockets ({sockets}) * cores ({cores}) * threads ({threads}) == maxcpus ({maxcpus_v}) < smp_cpus ({cpus_v})"
            )));
        }
        if maxcpus_v > MAX_CPUS {
            return Err(ConfigError::Message(format!(
                "Invalid SMP CPUs {maxcpus_v}. The max CPUs supported by machine '{type_name}' is {MAX_CPUS}"
            )));
        }
        Ok(Self {
            cpus: cpus_v,
            maxcpus: maxcpus_v,
            sockets,
            cores,
            threads,
        })
    }
}

/// Parses a `-m` size: a number of MiB, or a number with a K, M, G or T
/// suffix (QEMU's defaults and suffixes).
pub fn parse_ram_size(text: &str) -> Result<u64, ConfigError> {
    let t = text.strip_prefix("size=").unwrap_or(text);
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'B' => 1,
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(ConfigError::Message(format!("invalid size: '{text}'"))),
            };
            (&t[..i], m)
        }
        _ => (t, 1u64 << 20),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| ConfigError::Message(format!("invalid size: '{text}'")))?;
    if !(n.is_finite() && n >= 0.0) {
        return Err(ConfigError::Message(format!("invalid size: '{text}'")));
    }
    let bytes = n * mult as f64;
    if bytes > u64::MAX as f64 {
        return Err(ConfigError::Message("ram size too large".into()));
    }
    Ok(bytes as u64)
}

/// A configuration QEMU would refuse, in its words. The caller prints it
/// after the program name and exits with status 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// From the capability layer (machine type, `cap-*`, `ic-mode`).
    #[error("{0}")]
    Caps(#[from] CapError),
    /// Anything else, with its message.
    #[error("{0}")]
    Message(String),
}

impl ConfigError {
    /// The hint line QEMU prints under some errors.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Caps(e) => e.hint(),
            Self::Message(_) => None,
        }
    }
}

/// What the command line asked for, before validation.
#[derive(Debug, Clone, Default)]
pub struct ConfigRequest {
    /// `-machine` / `-M` option strings, in order (later ones override).
    pub machine: Vec<String>,
    /// `-cpu`.
    pub cpu: Option<String>,
    /// `-smp`.
    pub smp: Option<String>,
    /// `-m`.
    pub ram: Option<String>,
    /// `-accel`.
    pub accel: AccelKind,
    /// `-rtc base=`.
    pub rtc_base: Option<CivilTime>,
    /// Whether a console (vty) is attached (`-serial`, or the defaults).
    pub console: bool,
}

/// A validated machine configuration.
#[derive(Debug, Clone)]
pub struct MachineConfig {
    /// The machine type.
    pub machine: &'static MachineType,
    /// Effective capabilities.
    pub caps: EffectiveCaps,
    /// The CPU model.
    pub cpu: &'static CpuModel,
    /// `max-cpu-compat`.
    pub max_cpu_compat: Option<IsaLevel>,
    /// Topology.
    pub smp: Smp,
    /// Virtual SMT mode: spacing of interrupt server numbers between cores.
    pub vsmt: u32,
    /// Guest RAM in bytes.
    pub ram_size: u64,
    /// `kernel-irqchip`.
    pub kernel_irqchip: KernelIrqchip,
    /// Accelerator.
    pub accel: AccelKind,
    /// RTC start.
    pub rtc_base: Option<CivilTime>,
    /// Whether a vty is present.
    pub console: bool,
    /// `dumpdtb=FILE`: write the device tree and exit.
    pub dumpdtb: Option<String>,
}

/// Maps ppc-cpu's ISA level onto spapr-caps'.
pub fn caps_isa(level: IsaLevel) -> spapr_caps::IsaLevel {
    match level {
        IsaLevel::V2_06 => spapr_caps::IsaLevel::V2_06,
        IsaLevel::V2_06Plus => spapr_caps::IsaLevel::V2_06Plus,
        IsaLevel::V2_07 => spapr_caps::IsaLevel::V2_07,
        IsaLevel::V3_00 => spapr_caps::IsaLevel::V3_00,
        IsaLevel::V3_10 => spapr_caps::IsaLevel::V3_10,
        #[allow(unreachable_patterns)]
        _ => spapr_caps::IsaLevel::V2_05,
    }
}

impl MachineConfig {
    /// Validates a request. The order of the checks follows QEMU's, so the
    /// same bad command line gets the same first message.
    pub fn new(req: &ConfigRequest) -> Result<Self, ConfigError> {
        let mut merged = String::new();
        for m in &req.machine {
            if !merged.is_empty() && !m.is_empty() {
                merged.push(',');
            }
            merged.push_str(m);
        }
        let opts = MachineOptions::parse(&merged)?;
        let machine = opts.machine_type()?;
        let mut settings = CapSettings::new(machine);
        let rest = settings.apply_options(&opts)?;

        let mut kernel_irqchip = KernelIrqchip::default();
        let mut max_compat_name: Option<String> = None;
        let mut vsmt: Option<u32> = None;
        let mut dumpdtb = None;
        for (k, v) in rest {
            match k {
                "kernel-irqchip" | "kernel_irqchip" => kernel_irqchip = KernelIrqchip::parse(v)?,
                "max-cpu-compat" => max_compat_name = Some(v.to_string()),
                "vsmt" => {
                    vsmt = Some(v.parse().map_err(|_| {
                        ConfigError::Message("Parameter 'vsmt' expects uint32_t".into())
                    })?)
                }
                "dumpdtb" => dumpdtb = Some(v.to_string()),
                // Accepted and ignored, as the guests' harnesses pass them.
                "accel" | "usb" | "graphics" | "kvm-type" | "x-vof" => {}
                _ => {
                    return Err(CapError::PropertyNotFound {
                        type_name: machine.name.clone(),
                        property: k.to_string(),
                    }
                    .into())
                }
            }
        }

        let cpu_name = req.cpu.as_deref().unwrap_or(machine.default_cpu);
        let cpu = CpuModel::by_name(cpu_name).map_err(|e| ConfigError::Message(e.to_string()))?;
        let max_cpu_compat = match &max_compat_name {
            None => None,
            Some(n) => Some(
                cpu.check_compat(n)
                    .map_err(|e| ConfigError::Message(e.to_string()))?,
            ),
        };

        let smp = match &req.smp {
            Some(s) => Smp::parse(s, &machine.name, machine.flags.smp_prefer_sockets)?,
            None => Smp::default(),
        };
        if smp.threads > cpu.max_threads {
            return Err(ConfigError::Message(format!(
                "Cannot support more than {} threads/core on a pseries machine",
                cpu.max_threads
            )));
        }
        let vsmt = vsmt.unwrap_or_else(|| machine.vsmt.value(smp.threads));
        if vsmt < smp.threads {
            return Err(ConfigError::Message(format!(
                "Cannot support VSMT mode {vsmt} because it must be >= threads/core ({})",
                smp.threads
            )));
        }
        if !vsmt.is_power_of_two() || vsmt > 8 {
            return Err(ConfigError::Message(format!(
                "Cannot support VSMT mode {vsmt} because it must be a power of 2 up to 8"
            )));
        }

        let ram_size = match &req.ram {
            Some(s) => parse_ram_size(s)?,
            None => DEFAULT_RAM,
        };
        if ram_size > MAX_RAM {
            return Err(ConfigError::Message(format!(
                "ram size too large: {} MiB is more than the {} MiB this machine allows",
                ram_size >> 20,
                MAX_RAM >> 20
            )));
        }
        if ram_size < MIN_RAM {
            return Err(ConfigError::Message(format!(
                "ram size too small: at least {} MiB are needed",
                MIN_RAM >> 20
            )));
        }
        if ram_size % (256 << 20) != 0 && machine.version >= spapr_caps::MachineVersion::new(2, 5) {
            // QEMU: memory must be a multiple of the 256 MiB LMB size.
            return Err(ConfigError::Message(format!(
                "Memory size 0x{ram_size:x} is not aligned to 256 MiB"
            )));
        }

        let mut cpu_info = CpuInfo::new(cpu.name, caps_isa(cpu.isa));
        cpu_info.large_decr_bits = cpu.large_dec_bits.map_or(0, u32::from);
        let cpu_info = cpu_info.with_max_compat(max_cpu_compat.map(caps_isa))?;
        let ctx = CapContext {
            cpu: cpu_info,
            accel: Accel::Tcg,
            smp_threads: smp.threads,
        };
        let caps = resolve(machine, &ctx, &settings)?;

        if kernel_irqchip == KernelIrqchip::Split && req.accel == AccelKind::Kvm {
            return Err(ConfigError::Message(
                "kernel_irqchip split mode not supported on pseries".into(),
            ));
        }
        Ok(Self {
            machine,
            caps,
            cpu,
            max_cpu_compat,
            smp,
            vsmt,
            ram_size,
            kernel_irqchip,
            accel: req.accel,
            rtc_base: req.rtc_base,
            console: req.console,
            dumpdtb,
        })
    }

    /// Interrupt server number of vCPU `index`: cores are `vsmt` apart
    /// (QEMU's `spapr_vcpu_id`).
    pub fn server_of(&self, index: u32) -> u32 {
        let core = index / self.smp.threads;
        let thread = index % self.smp.threads;
        core * self.vsmt + thread
    }

    /// Interrupt server numbers the machine can use (QEMU's
    /// `spapr_max_server_number`: `ceil(maxcpus * vsmt / threads)`).
    pub fn nr_servers(&self) -> u32 {
        (self.smp.maxcpus * self.vsmt).div_ceil(self.smp.threads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(machine: &str) -> ConfigRequest {
        ConfigRequest {
            machine: vec![machine.to_string()],
            ..Default::default()
        }
    }

    #[test]
    fn smp_rules_match_qemu() {
        let s = Smp::parse("4", "pseries-7.2", false).unwrap();
        assert_eq!((s.cpus, s.maxcpus, s.cores, s.threads), (4, 4, 4, 1));
        let s = Smp::parse("8,threads=4", "pseries-7.2", false).unwrap();
        assert_eq!((s.cores, s.threads), (2, 4));
        let s = Smp::parse("1,maxcpus=4", "pseries-7.2", false).unwrap();
        assert_eq!((s.cpus, s.maxcpus), (1, 4));
        assert_eq!(
            Smp::parse("4,maxcpus=2", "pseries-7.2", false).unwrap_err().to_string(),
            "Invalid CPU topology: maxcpus must be equal to or greater than smp: sockets (1) * cores (2) * threads (1) == maxcpus (2) < smp_cpus (4)"
        );
        assert_eq!(
            Smp::parse("4097", "pseries-7.2", false)
                .unwrap_err()
                .to_string(),
            "Invalid SMP CPUs 4097. The max CPUs supported by machine 'pseries-7.2' is 4096"
        );
        let s = Smp::parse("4", "pseries-4.2", true).unwrap();
        assert_eq!((s.sockets, s.cores), (4, 1));
        assert!(Smp::parse("x", "pseries-7.2", false).is_err());
        assert!(Smp::parse("2,bogus=1", "pseries-7.2", false).is_err());
    }

    #[test]
    fn ram_sizes() {
        assert_eq!(parse_ram_size("512").unwrap(), 512 << 20);
        assert_eq!(parse_ram_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_ram_size("256M").unwrap(), 256 << 20);
        assert!(parse_ram_size("lots").is_err());
    }

    #[test]
    fn servers_follow_vsmt() {
        let mut r = req("pseries-4.1");
        r.smp = Some("4".into());
        let c = MachineConfig::new(&r).unwrap();
        assert_eq!(c.vsmt, 8);
        assert_eq!(c.server_of(1), 8);
        assert_eq!(c.nr_servers(), 32);
        let mut r = req("pseries-4.2");
        r.smp = Some("4".into());
        let c = MachineConfig::new(&r).unwrap();
        assert_eq!(c.vsmt, 1);
        assert_eq!(c.nr_servers(), 4);
    }

    #[test]
    fn machine_properties_use_qemu_words() {
        let e = MachineConfig::new(&req("pseries-7.2,bogus=1")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Property 'pseries-7.2-machine.bogus' not found"
        );
        let e = MachineConfig::new(&req("pseries-7.2,max-cpu-compat=bogus")).unwrap_err();
        assert_eq!(e.to_string(), "Invalid compatibility mode \"bogus\"");
        let e = MachineConfig::new(&req("pseries-7.2,ic-mode=bogus")).unwrap_err();
        assert_eq!(e.to_string(), "Bad value for \"ic-mode\" property");
        let mut r = req("pseries-7.2,ic-mode=xive");
        r.cpu = Some("POWER8".into());
        assert_eq!(
            MachineConfig::new(&r).unwrap_err().to_string(),
            "XIVE-only machines require a POWER9 CPU"
        );
        let mut r = req("pseries-7.2");
        r.cpu = Some("POWER42".into());
        assert!(MachineConfig::new(&r).is_err());
        let c = MachineConfig::new(&req("pseries,dumpdtb=/tmp/x.dtb,kernel-irqchip=off")).unwrap();
        assert_eq!(c.dumpdtb.as_deref(), Some("/tmp/x.dtb"));
        assert_eq!(c.kernel_irqchip, KernelIrqchip::Off);
    }
}
