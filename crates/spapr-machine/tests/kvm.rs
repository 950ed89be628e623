//! `kernel-irqchip` against this host's real KVM (and against device nodes
//! that are not KVM).
//!
//! The tests that need `/dev/kvm` print a skip message and return when it is
//! absent or cannot be opened; the paths that do not need it always run.

use std::path::Path;
use std::sync::Arc;

use intc_xics as _;
use intc_xive as _;
use spapr_irq::{Backend, ControllerConfig, InterruptController, IrqError};
use spapr_machine::config::{AccelKind, KernelIrqchip};
use spapr_machine::kvm::{
    self, FallbackWarning, IrqchipOutcome, KernelIrqchipState, KvmHost, KvmIrqchipError,
    Unavailable,
};

const ENODEV: i32 = 19;
const MISSING: &str = "/nonexistent/pseries-rs/kvm";

fn xics() -> &'static Backend {
    spapr_irq::backend("xics").expect("intc-xics registers \"xics\"")
}

fn xive() -> &'static Backend {
    spapr_irq::backend("xive").expect("intc-xive registers \"xive\"")
}

fn no_factory(_: &ControllerConfig) -> Result<Arc<dyn InterruptController>, IrqError> {
    Err(IrqError::Activation("not built in these tests".into()))
}

/// A backend with no in-kernel model (not registered).
static NO_KVM_MODEL: Backend = Backend {
    name: "plain",
    capability: "plain",
    cas_ov5: 0,
    cas_mode: "plain",
    line_bit: 5,
    kvm_device_type: None,
    order: 50,
    factory: no_factory,
};

/// A backend whose device type is `KVM_DEV_TYPE_VFIO` (4), which every KVM
/// host can create: it shows the success path with a real device fd on a
/// host that has no PowerPC devices. Not registered.
static VFIO_STAND_IN: Backend = Backend {
    name: "vfio-stand-in",
    capability: "vfio-stand-in",
    cas_ov5: 0,
    cas_mode: "none",
    line_bit: 6,
    kvm_device_type: Some(4),
    order: 51,
    factory: no_factory,
};

/// `/dev/kvm` when it exists and opens read-write here.
fn real_kvm() -> Option<KvmHost> {
    let path = Path::new("/dev/kvm");
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        Ok(_) => Some(KvmHost::default()),
        Err(e) => {
            eprintln!("skipping: /dev/kvm unusable here ({e})");
            None
        }
    }
}

fn not_power_reason(device: &str) -> String {
    format!(
        "in-kernel {device} needs a POWER host (this host is {}, KVM_CREATE_DEVICE: No such device)",
        std::env::consts::ARCH
    )
}

#[test]
fn registered_device_types_match_linux() {
    assert_eq!(xics().kvm_device_type, Some(kvm::KVM_DEV_TYPE_XICS));
    assert_eq!(xive().kvm_device_type, Some(kvm::KVM_DEV_TYPE_XIVE));
    assert_eq!(
        kvm::KVM_DEV_TYPE_XICS,
        kvm_bindings::kvm_device_type_KVM_DEV_TYPE_XICS
    );
    assert_eq!(
        kvm::KVM_DEV_TYPE_XIVE,
        kvm_bindings::kvm_device_type_KVM_DEV_TYPE_XIVE
    );
}

#[test]
fn off_is_emulated_and_never_opens_kvm() {
    // A node that does not exist proves /dev/kvm is not touched.
    let host = KvmHost::with_path(MISSING);
    for b in [xics(), xive(), &NO_KVM_MODEL] {
        match host.connect(KernelIrqchip::Off, b).unwrap() {
            IrqchipOutcome::Emulated { warning } => assert_eq!(warning, None),
            other => panic!("off gave {other:?}"),
        }
    }
}

#[test]
fn split_is_refused_under_kvm_and_ignored_under_tcg() {
    let host = KvmHost::with_path(MISSING);
    let err = host.connect(KernelIrqchip::Split, xics()).unwrap_err();
    assert_eq!(err, KvmIrqchipError::Split);
    assert_eq!(
        err.to_string(),
        "kernel_irqchip split mode not supported on pseries"
    );
    assert_eq!(
        kvm::check_mode(AccelKind::Kvm, KernelIrqchip::Split)
            .unwrap_err()
            .to_string(),
        "kernel_irqchip split mode not supported on pseries"
    );
    assert_eq!(
        KernelIrqchipState::new(AccelKind::Kvm, KernelIrqchip::Split, host.clone()).unwrap_err(),
        KvmIrqchipError::Split
    );
    // QEMU 7.2 under TCG: on, off and split all start silently.
    for mode in [
        KernelIrqchip::Split,
        KernelIrqchip::On,
        KernelIrqchip::Off,
        KernelIrqchip::Allowed,
    ] {
        assert_eq!(kvm::check_mode(AccelKind::Tcg, mode), Ok(()));
        assert_eq!(
            kvm::check_mode(AccelKind::Kvm, mode).is_err(),
            mode == KernelIrqchip::Split
        );
        let mut st = KernelIrqchipState::new(AccelKind::Tcg, mode, host.clone()).unwrap();
        assert_eq!(st.activate(xics()).unwrap(), None);
        assert_eq!(st.activate(xive()).unwrap(), None);
        assert!(!st.in_kernel());
    }
}

#[test]
fn missing_kvm_node_fails_on_and_falls_back_by_default() {
    let host = KvmHost::with_path(MISSING);
    let reason = format!("{MISSING} does not exist: KVM is not available on this host");
    for b in [xics(), xive()] {
        let err = host.connect(KernelIrqchip::On, b).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("kernel_irqchip requested but unavailable: {reason}")
        );
        match host.connect(KernelIrqchip::Allowed, b).unwrap() {
            IrqchipOutcome::Emulated { warning: Some(w) } => {
                assert_eq!(
                    w.message(),
                    format!("kernel_irqchip allowed but unavailable: {reason}")
                );
                assert_eq!(w.hint(), "Falling back to kernel-irqchip=off");
            }
            other => panic!("default gave {other:?}"),
        }
    }
}

#[test]
fn a_node_that_is_not_kvm_is_reported() {
    // /dev/null opens but is no KVM: KVM_CREATE_VM fails with ENOTTY.
    let host = KvmHost::with_path("/dev/null");
    let err = host.connect(KernelIrqchip::On, xics()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "kernel_irqchip requested but unavailable: KVM_CREATE_VM on /dev/null failed: \
         Inappropriate ioctl for device"
    );
}

#[test]
fn an_unopenable_node_is_not_accessible() {
    // A directory cannot be opened read-write: EISDIR (root bypasses
    // permission bits, so EACCES cannot be shown reliably here).
    let dir = std::env::temp_dir();
    let host = KvmHost::with_path(&dir);
    let err = host.create(xics()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{} is not accessible: Is a directory", dir.display())
    );
}

#[test]
fn a_backend_without_kvm_model_never_opens_kvm() {
    let host = KvmHost::with_path(MISSING);
    let reason = "the plain interrupt controller has no in-kernel KVM device";
    assert_eq!(
        host.connect(KernelIrqchip::On, &NO_KVM_MODEL)
            .unwrap_err()
            .to_string(),
        format!("kernel_irqchip requested but unavailable: {reason}")
    );
    match host.connect(KernelIrqchip::Allowed, &NO_KVM_MODEL).unwrap() {
        IrqchipOutcome::Emulated { warning: Some(w) } => assert_eq!(
            w,
            FallbackWarning {
                reason: Unavailable::NoDeviceType { backend: "plain" }
            }
        ),
        other => panic!("default gave {other:?}"),
    }
}

#[test]
fn real_kvm_on_this_host() {
    let Some(host) = real_kvm() else { return };
    if std::env::consts::ARCH == "powerpc64" {
        eprintln!("skipping the non-POWER expectations: this host is POWER");
        return;
    }
    for (b, name) in [(xics(), "XICS"), (xive(), "XIVE")] {
        // The real ioctl fails with ENODEV.
        match host.create(b).unwrap_err() {
            Unavailable::NotPower { device, errno, .. } => {
                assert_eq!(device, name);
                assert_eq!(errno.0, ENODEV);
            }
            other => panic!("{name}: {other:?}"),
        }
        // on: fatal.
        assert_eq!(
            host.connect(KernelIrqchip::On, b).unwrap_err().to_string(),
            format!(
                "kernel_irqchip requested but unavailable: {}",
                not_power_reason(name)
            )
        );
        // default: emulated with QEMU's warning.
        match host.connect(KernelIrqchip::Allowed, b).unwrap() {
            IrqchipOutcome::Emulated { warning: Some(w) } => {
                assert_eq!(
                    w.message(),
                    format!(
                        "kernel_irqchip allowed but unavailable: {}",
                        not_power_reason(name)
                    )
                );
                assert_eq!(w.hint(), "Falling back to kernel-irqchip=off");
            }
            other => panic!("{name}: default gave {other:?}"),
        }
        // off and split: same as without KVM.
        assert!(matches!(
            host.connect(KernelIrqchip::Off, b),
            Ok(IrqchipOutcome::Emulated { warning: None })
        ));
        assert_eq!(
            host.connect(KernelIrqchip::Split, b).unwrap_err(),
            KvmIrqchipError::Split
        );
    }
}

#[test]
fn real_kvm_worded_as_on_a_power_host_without_the_capabilities() {
    // The capability checks QEMU makes first, issued for real on this KVM,
    // which has neither PowerPC capability.
    let Some(host) = real_kvm() else { return };
    let host = host.for_arch("powerpc64");
    assert_eq!(
        host.connect(KernelIrqchip::On, xics())
            .unwrap_err()
            .to_string(),
        "kernel_irqchip requested but unavailable: \
         KVM and IRQ_XICS capability must be present for in-kernel XICS"
    );
    assert_eq!(
        host.connect(KernelIrqchip::On, xive())
            .unwrap_err()
            .to_string(),
        "kernel_irqchip requested but unavailable: IRQ_XIVE capability must be present for KVM"
    );
}

#[test]
fn real_kvm_device_is_held_open_until_disconnect() {
    let Some(host) = real_kvm() else { return };
    let outcome = host
        .connect(KernelIrqchip::On, &VFIO_STAND_IN)
        .expect("KVM_DEV_TYPE_VFIO is creatable on any KVM host");
    assert!(outcome.is_in_kernel());
    let IrqchipOutcome::InKernel(chip) = outcome else {
        unreachable!()
    };
    assert_eq!(chip.backend(), "vfio-stand-in");
    assert_eq!(chip.device_type(), 4);
    let fd_path = format!("/proc/self/fd/{}", chip.device_fd());
    let target = std::fs::read_link(&fd_path).expect("device fd is open");
    assert_eq!(target.to_string_lossy(), "anon_inode:kvm-vfio");
    kvm::disconnect(chip);
    // The descriptor number may be reused by another test's file at once,
    // so check only that it no longer names the KVM device.
    let after = std::fs::read_link(&fd_path).map(|t| t.to_string_lossy().into_owned());
    assert_ne!(after.ok().as_deref(), Some("anon_inode:kvm-vfio"));
}

#[test]
fn machine_state_follows_activation() {
    let Some(host) = real_kvm() else { return };
    let mut st = KernelIrqchipState::new(AccelKind::Kvm, KernelIrqchip::Allowed, host).unwrap();
    assert_eq!(st.activate(&VFIO_STAND_IN).unwrap(), None);
    assert!(st.in_kernel());
    let fd = st.chip().unwrap().device_fd();
    // Same backend again: a no-op, the same device stays.
    assert_eq!(st.activate(&VFIO_STAND_IN).unwrap(), None);
    assert_eq!(st.chip().unwrap().device_fd(), fd);
    if std::env::consts::ARCH != "powerpc64" {
        // Switching to XICS releases the old device, then falls back.
        let w = st.activate(xics()).unwrap().expect("fallback warning");
        assert_eq!(
            w.message(),
            format!(
                "kernel_irqchip allowed but unavailable: {}",
                not_power_reason("XICS")
            )
        );
        assert!(!st.in_kernel());
    }
    assert_eq!(st.activate(&VFIO_STAND_IN).unwrap(), None);
    assert!(st.in_kernel());
    st.deactivate();
    assert!(!st.in_kernel());
    assert!(st.chip().is_none());
}

#[test]
fn on_with_real_kvm_and_state_is_fatal_for_xics_off_power() {
    let Some(host) = real_kvm() else { return };
    if std::env::consts::ARCH == "powerpc64" {
        return;
    }
    let mut st = KernelIrqchipState::new(AccelKind::Kvm, KernelIrqchip::On, host).unwrap();
    assert_eq!(
        st.activate(xive()).unwrap_err().to_string(),
        format!(
            "kernel_irqchip requested but unavailable: {}",
            not_power_reason("XIVE")
        )
    );
    assert!(!st.in_kernel());
    let mut off =
        KernelIrqchipState::new(AccelKind::Kvm, KernelIrqchip::Off, KvmHost::default()).unwrap();
    assert_eq!(off.activate(xive()).unwrap(), None);
    assert!(!off.in_kernel());
}
