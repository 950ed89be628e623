//! In-kernel interrupt controller (`kernel-irqchip`): probing the KVM XICS
//! and XIVE devices.
//!
//! When the machine activates a controller it asks this module whether the
//! controller can live in the kernel. The answer follows QEMU's
//! `spapr_irq_init_kvm`, `xics_kvm_connect` and `kvmppc_xive_connect`:
//!
//! | `kernel-irqchip` | device created          | device unavailable                                   |
//! |------------------|-------------------------|------------------------------------------------------|
//! | `off`            | not tried               | emulated, silent, `/dev/kvm` untouched               |
//! | default          | in-kernel               | emulated, warning `kernel_irqchip allowed but unavailable: <reason>` and hint `Falling back to kernel-irqchip=off` |
//! | `on`             | in-kernel               | fatal: `kernel_irqchip requested but unavailable: <reason>` |
//! | `split`          | fatal under KVM: `kernel_irqchip split mode not supported on pseries` | same |
//!
//! All of this applies only with `-accel kvm`. Under TCG QEMU 7.2 ignores
//! `kernel-irqchip` entirely: `on`, `off` and `split` all start silently
//! (rows 37 to 40 of `reference/qemu-7.2/errors.tsv`), so the machine must
//! neither call [`connect`] nor refuse `split` then. [`check_mode`] and
//! [`KernelIrqchipState`] encode that rule.
//!
//! "In-kernel" here means a real device file descriptor returned by
//! `KVM_CREATE_DEVICE` (issued through kvm-ioctls on a VM created from
//! `/dev/kvm`) with the backend's [`spapr_irq::Backend::kvm_device_type`]
//! (`KVM_DEV_TYPE_XICS` = 3, `KVM_DEV_TYPE_XIVE` = 9 in Linux's
//! `enum kvm_device_type`). The handle keeps that descriptor open until
//! [`disconnect`]. On an x86_64 host the kernel has no PowerPC device ops,
//! so `KVM_CREATE_DEVICE` fails with `ENODEV` and the answer is "emulated"
//! (or the fatal error with `on`).
//!
//! # Why the in-kernel path can only be probed
//!
//! kvm-ioctls and kvm-bindings have no ppc64 support: kvm-bindings only
//! generates bindings for x86_64, arm/aarch64 and riscv64, so the crates do
//! not even build on a POWER host; vmm-sys-util computes ioctl numbers with
//! the asm-generic `_IOC` layout, which is wrong for powerpc (13 size bits,
//! 3 direction bits); the vCPU calls the controllers need are gated to
//! other architectures (`VcpuFd::enable_cap` is x86_64 only,
//! `get_one_reg`/`set_one_reg` are aarch64/riscv64 only); there is no
//! helper for `KVM_CAP_PPC_IRQ_XIVE`; and the XICS/XIVE device attribute
//! groups and structures (`arch/powerpc/include/uapi/asm/kvm.h`) are not
//! wrapped. The VM created here exists only to host the probe: it has no
//! vCPUs, no memory and is never run.
//!
//! # What running it on a POWER host would need
//!
//! - ppc64 bindings and the powerpc ioctl encoding, upstream in
//!   kvm-bindings/vmm-sys-util or in a local uapi module, and the device
//!   created on the accelerator's own VM rather than a private one.
//! - XICS (Linux `Documentation/virt/kvm/devices/xics.rst`): check
//!   `KVM_CAP_IRQ_XICS`, define the in-kernel RTAS tokens (`ibm,set-xive`,
//!   `ibm,get-xive`, `ibm,int-on`, `ibm,int-off`, QEMU's
//!   `kvmppc_define_rtas_kernel_token`), write the number of servers with
//!   `KVM_DEV_XICS_GRP_CTRL`/`KVM_DEV_XICS_NR_SERVERS`, push and pull each
//!   source's 64-bit state (server, priority, level-sensitive, masked and
//!   pending bits) with `KVM_SET/GET_DEVICE_ATTR` in group
//!   `KVM_DEV_XICS_GRP_SOURCES` (attribute = source number), connect each
//!   vCPU's presenter with `KVM_ENABLE_CAP(KVM_CAP_IRQ_XICS)` on the vCPU
//!   (device fd and server number as arguments) and move the ICP state
//!   through the `KVM_REG_PPC_ICP_STATE` one-reg.
//! - XIVE (`Documentation/virt/kvm/devices/xive.rst`): check
//!   `KVM_CAP_PPC_IRQ_XIVE`, use `KVM_DEV_XIVE_GRP_CTRL` (`RESET`, `EQ_SYNC`,
//!   `NR_SERVERS`), `KVM_DEV_XIVE_GRP_SOURCE` (create a source: MSI or LSI
//!   and its level), `KVM_DEV_XIVE_GRP_SOURCE_CONFIG` (priority, server,
//!   mask, EISN), `KVM_DEV_XIVE_GRP_EQ_CONFIG` (the 64-byte
//!   `kvm_ppc_xive_eq`: flags with `ALWAYS_NOTIFY`, queue shift, address,
//!   toggle and index) and `KVM_DEV_XIVE_GRP_SOURCE_SYNC`; connect each vCPU
//!   with `KVM_ENABLE_CAP(KVM_CAP_PPC_IRQ_XIVE)`; move the thread context
//!   through the `KVM_REG_PPC_VP_STATE` one-reg; `mmap` the device fd (TIMA
//!   at page offset 0, ESB pages at page offset 4) and map those as guest
//!   memory in place of the emulated ESB and TIMA MMIO regions; migrate in
//!   the documented order (mask all sources, `EQ_SYNC`, capture; restore
//!   EQs, targeting, thread contexts, then sources).
//! - Device interrupts through irqfd (`KVM_IRQFD`, GSI = source number, as
//!   QEMU's `kvm_gsi_direct_mapping`) or `KVM_IRQ_LINE`, instead of the
//!   emulated `set_irq`.

use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use kvm_bindings::{kvm_create_device, KVM_CAP_IRQ_XICS, KVM_CAP_PPC_IRQ_XIVE};
use kvm_ioctls::{DeviceFd, Kvm, VmFd};
use spapr_irq::Backend;

use crate::config::{AccelKind, KernelIrqchip};

/// `KVM_DEV_TYPE_XICS` (Linux `enum kvm_device_type`).
pub const KVM_DEV_TYPE_XICS: u32 = 3;
/// `KVM_DEV_TYPE_XIVE` (Linux `enum kvm_device_type`).
pub const KVM_DEV_TYPE_XIVE: u32 = 9;
/// The hint QEMU prints after the fallback warning.
pub const FALLBACK_HINT: &str = "Falling back to kernel-irqchip=off";

/// `strerror` wording, as QEMU's `error_setg_errno` appends it.
fn strerror(errno: i32) -> String {
    let s = io::Error::from_raw_os_error(errno).to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// An `errno` shown as its `strerror` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&strerror(self.0))
    }
}

/// Why the in-kernel controller cannot be had (the `<reason>` of QEMU's
/// messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The backend has no KVM device type.
    #[error("the {backend} interrupt controller has no in-kernel KVM device")]
    NoDeviceType {
        /// Backend name.
        backend: &'static str,
    },
    /// The KVM device node does not exist.
    #[error("{path} does not exist: KVM is not available on this host")]
    NoKvm {
        /// The device node tried.
        path: String,
    },
    /// The KVM device node exists but cannot be opened.
    #[error("{path} is not accessible: {errno}")]
    NotAccessible {
        /// The device node tried.
        path: String,
        /// `errno` of `open` (EACCES, EPERM...).
        errno: Errno,
    },
    /// `KVM_CREATE_VM` failed (for example the node is not KVM).
    #[error("KVM_CREATE_VM on {path} failed: {errno}")]
    CreateVm {
        /// The device node.
        path: String,
        /// `errno` of the ioctl.
        errno: Errno,
    },
    /// The host is not POWER: its KVM has no such device.
    #[error(
        "in-kernel {device} needs a POWER host (this host is {arch}, \
         KVM_CREATE_DEVICE: {errno})"
    )]
    NotPower {
        /// "XICS" or "XIVE".
        device: &'static str,
        /// Host architecture.
        arch: &'static str,
        /// `errno` of the ioctl (ENODEV on x86_64).
        errno: Errno,
    },
    /// QEMU: the host KVM lacks `KVM_CAP_IRQ_XICS`.
    #[error("KVM and IRQ_XICS capability must be present for in-kernel XICS")]
    NoXicsCap,
    /// QEMU: the host KVM lacks `KVM_CAP_PPC_IRQ_XIVE`.
    #[error("IRQ_XIVE capability must be present for KVM")]
    NoXiveCap,
    /// QEMU: `KVM_CREATE_DEVICE` failed for XICS.
    #[error("Error on KVM_CREATE_DEVICE for XICS: {0}")]
    CreateXics(Errno),
    /// QEMU: `KVM_CREATE_DEVICE` failed for XIVE.
    #[error("XIVE: error creating KVM device: {0}")]
    CreateXive(Errno),
    /// `KVM_CREATE_DEVICE` failed for another device type.
    #[error("KVM_CREATE_DEVICE for device type {device_type} failed: {errno}")]
    CreateDevice {
        /// The device type asked.
        device_type: u32,
        /// `errno` of the ioctl.
        errno: Errno,
    },
}

/// Fatal `kernel-irqchip` errors (QEMU's words).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvmIrqchipError {
    /// `kernel-irqchip=on` and the device cannot be had.
    #[error("kernel_irqchip requested but unavailable: {0}")]
    Requested(Unavailable),
    /// `kernel-irqchip=split` under KVM.
    #[error("kernel_irqchip split mode not supported on pseries")]
    Split,
}

/// The warning printed when the default mode falls back to emulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackWarning {
    /// Why the device could not be had.
    pub reason: Unavailable,
}

impl FallbackWarning {
    /// The warning line: `kernel_irqchip allowed but unavailable: <reason>`.
    pub fn message(&self) -> String {
        format!("kernel_irqchip allowed but unavailable: {}", self.reason)
    }

    /// The hint line printed after it ([`FALLBACK_HINT`]).
    pub fn hint(&self) -> &'static str {
        FALLBACK_HINT
    }
}

/// An in-kernel controller: the KVM device, held open until dropped.
#[derive(Debug)]
pub struct KvmIrqchip {
    backend: &'static str,
    device_type: u32,
    device: DeviceFd,
    // The VM the device belongs to; see the module doc.
    _vm: VmFd,
}

impl KvmIrqchip {
    /// Name of the backend it serves.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// The KVM device type it was created with.
    pub fn device_type(&self) -> u32 {
        self.device_type
    }

    /// The device file descriptor (valid while `self` lives).
    pub fn device_fd(&self) -> RawFd {
        self.device.as_raw_fd()
    }
}

/// What [`connect`] decided for a controller.
#[derive(Debug)]
pub enum IrqchipOutcome {
    /// The controller runs in the kernel.
    InKernel(KvmIrqchip),
    /// The emulated controller is used; `warning` is set when the default
    /// mode fell back.
    Emulated {
        /// The warning to print, if any.
        warning: Option<FallbackWarning>,
    },
}

impl IrqchipOutcome {
    /// Whether the controller is in the kernel (`info pic`'s
    /// `irqchip: in-kernel`).
    pub fn is_in_kernel(&self) -> bool {
        matches!(self, Self::InKernel(_))
    }
}

/// Where to find KVM: the device node and the host architecture the error
/// reasons are worded for. [`KvmHost::default`] is `/dev/kvm` on this host;
/// tests inject other nodes.
#[derive(Debug, Clone)]
pub struct KvmHost {
    path: PathBuf,
    arch: &'static str,
}

impl Default for KvmHost {
    fn default() -> Self {
        Self {
            path: PathBuf::from("/dev/kvm"),
            arch: std::env::consts::ARCH,
        }
    }
}

impl KvmHost {
    /// KVM at `path` on this host.
    pub fn with_path(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            ..Self::default()
        }
    }

    /// Words the failure reasons as on a host of architecture `arch`
    /// (`std::env::consts::ARCH` spelling). With `"powerpc64"` the
    /// capability checks QEMU makes come first, as on a POWER host.
    pub fn for_arch(mut self, arch: &'static str) -> Self {
        self.arch = arch;
        self
    }

    /// The device node.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies `kernel-irqchip` for `backend` (see the module doc). Under
    /// TCG do not call this: see [`check_mode`].
    pub fn connect(
        &self,
        mode: KernelIrqchip,
        backend: &Backend,
    ) -> Result<IrqchipOutcome, KvmIrqchipError> {
        match mode {
            KernelIrqchip::Off => Ok(IrqchipOutcome::Emulated { warning: None }),
            KernelIrqchip::Split => Err(KvmIrqchipError::Split),
            KernelIrqchip::On => self
                .create(backend)
                .map(IrqchipOutcome::InKernel)
                .map_err(KvmIrqchipError::Requested),
            KernelIrqchip::Allowed => Ok(match self.create(backend) {
                Ok(chip) => IrqchipOutcome::InKernel(chip),
                Err(reason) => IrqchipOutcome::Emulated {
                    warning: Some(FallbackWarning { reason }),
                },
            }),
        }
    }

    /// Creates the KVM device of `backend`, or says why it cannot.
    pub fn create(&self, backend: &Backend) -> Result<KvmIrqchip, Unavailable> {
        let device_type = backend.kvm_device_type.ok_or(Unavailable::NoDeviceType {
            backend: backend.name,
        })?;
        let shown = self.path.display().to_string();
        let Ok(cpath) = CString::new(self.path.as_os_str().as_bytes()) else {
            return Err(Unavailable::NoKvm { path: shown });
        };
        let kvm = Kvm::new_with_path(&cpath).map_err(|e| {
            if io::Error::from_raw_os_error(e.errno()).kind() == io::ErrorKind::NotFound {
                Unavailable::NoKvm {
                    path: shown.clone(),
                }
            } else {
                Unavailable::NotAccessible {
                    path: shown.clone(),
                    errno: Errno(e.errno()),
                }
            }
        })?;
        let vm = kvm.create_vm().map_err(|e| Unavailable::CreateVm {
            path: shown.clone(),
            errno: Errno(e.errno()),
        })?;
        let on_power = self.arch == "powerpc64";
        // QEMU checks the capability before creating the device.
        if on_power {
            if device_type == KVM_DEV_TYPE_XICS
                && kvm.check_extension_raw(KVM_CAP_IRQ_XICS.into()) <= 0
            {
                return Err(Unavailable::NoXicsCap);
            }
            if device_type == KVM_DEV_TYPE_XIVE
                && vm.check_extension_raw(KVM_CAP_PPC_IRQ_XIVE.into()) <= 0
            {
                return Err(Unavailable::NoXiveCap);
            }
        }
        let mut request = kvm_create_device {
            type_: device_type,
            fd: 0,
            flags: 0,
        };
        match vm.create_device(&mut request) {
            Ok(device) => Ok(KvmIrqchip {
                backend: backend.name,
                device_type,
                device,
                _vm: vm,
            }),
            Err(e) => {
                let errno = Errno(e.errno());
                let device = match device_type {
                    KVM_DEV_TYPE_XICS => "XICS",
                    KVM_DEV_TYPE_XIVE => "XIVE",
                    _ => return Err(Unavailable::CreateDevice { device_type, errno }),
                };
                Err(match (on_power, device_type) {
                    (false, _) => Unavailable::NotPower {
                        device,
                        arch: self.arch,
                        errno,
                    },
                    (true, KVM_DEV_TYPE_XICS) => Unavailable::CreateXics(errno),
                    (true, _) => Unavailable::CreateXive(errno),
                })
            }
        }
    }
}

/// [`KvmHost::connect`] with `/dev/kvm` on this host.
pub fn connect(mode: KernelIrqchip, backend: &Backend) -> Result<IrqchipOutcome, KvmIrqchipError> {
    KvmHost::default().connect(mode, backend)
}

/// Releases an in-kernel controller (closes its device), for deactivate.
pub fn disconnect(chip: KvmIrqchip) {
    drop(chip);
}

/// The machine-init check (QEMU's `spapr_irq_init`): `split` is refused
/// under KVM only; under TCG every value is accepted and ignored, as QEMU
/// 7.2 does.
pub fn check_mode(accel: AccelKind, mode: KernelIrqchip) -> Result<(), KvmIrqchipError> {
    match (accel, mode) {
        (AccelKind::Kvm, KernelIrqchip::Split) => Err(KvmIrqchipError::Split),
        _ => Ok(()),
    }
}

/// The machine's `kernel-irqchip` state: at most one in-kernel controller,
/// the active one.
#[derive(Debug)]
pub struct KernelIrqchipState {
    accel: AccelKind,
    mode: KernelIrqchip,
    host: KvmHost,
    chip: Option<KvmIrqchip>,
}

impl KernelIrqchipState {
    /// Checks `mode` ([`check_mode`]) and starts with nothing in the kernel.
    pub fn new(
        accel: AccelKind,
        mode: KernelIrqchip,
        host: KvmHost,
    ) -> Result<Self, KvmIrqchipError> {
        check_mode(accel, mode)?;
        Ok(Self {
            accel,
            mode,
            host,
            chip: None,
        })
    }

    /// Called when `backend` becomes active. Under TCG nothing is tried.
    /// Connecting the backend already in the kernel is a no-op (a reboot in
    /// the same mode, as in QEMU); another one is released first. Returns
    /// the fallback warning to print, if any.
    pub fn activate(
        &mut self,
        backend: &Backend,
    ) -> Result<Option<FallbackWarning>, KvmIrqchipError> {
        if self.accel != AccelKind::Kvm {
            return Ok(None);
        }
        if self
            .chip
            .as_ref()
            .is_some_and(|c| c.backend() == backend.name)
        {
            return Ok(None);
        }
        self.deactivate();
        match self.host.connect(self.mode, backend)? {
            IrqchipOutcome::InKernel(chip) => {
                self.chip = Some(chip);
                Ok(None)
            }
            IrqchipOutcome::Emulated { warning } => Ok(warning),
        }
    }

    /// Releases the in-kernel controller, if any.
    pub fn deactivate(&mut self) {
        if let Some(chip) = self.chip.take() {
            disconnect(chip);
        }
    }

    /// Whether a controller is in the kernel (`irqchip: in-kernel`).
    pub fn in_kernel(&self) -> bool {
        self.chip.is_some()
    }

    /// The in-kernel controller, if any.
    pub fn chip(&self) -> Option<&KvmIrqchip> {
        self.chip.as_ref()
    }
}
