//! Registration through `inventory`, proven with a test backend defined
//! here. (The controller crates' own tests check that "xics" and "xive"
//! are registered.)

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use migration::Migratable;
use spapr_irq::{
    backend, backend_for_cas, backends, Backend, Caller, ControllerConfig, DtError, DtSink,
    HcallReply, InterruptController, IrqError, RtasCallDesc, VcpuDesc,
};

struct Probe {
    active: AtomicBool,
}

impl InterruptController for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn activate(&self, _nr_servers: u32) -> Result<(), IrqError> {
        self.active.store(true, Ordering::SeqCst);
        Ok(())
    }
    fn deactivate(&self) {
        self.active.store(false, Ordering::SeqCst);
    }
    fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }
    fn cpu_intc_create(&self, _vcpu: &VcpuDesc) -> Result<(), IrqError> {
        Ok(())
    }
    fn cpu_intc_reset(&self, _vcpu: u32) {}
    fn cpu_intc_destroy(&self, _vcpu: u32) {}
    fn claim_irq(&self, irq: u32, _lsi: bool) -> Result<(), IrqError> {
        Err(IrqError::NotFree(irq))
    }
    fn free_irq(&self, _irq: u32) {}
    fn is_claimed(&self, _irq: u32) -> bool {
        false
    }
    fn set_irq(&self, _irq: u32, _level: bool) {}
    fn reset(&self) {}
    fn print_info(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        writeln!(out, "probe")
    }
    fn dt_node(&self, sink: &mut dyn DtSink, _n: u32, phandle: u32) -> Result<(), DtError> {
        sink.begin_node("probe")?;
        sink.property_phandle(phandle)?;
        sink.end_node()
    }
    fn hcall_opcodes(&self) -> &'static [u64] {
        &[]
    }
    fn hcall(&self, _caller: Caller, _opcode: u64, _args: &[u64]) -> HcallReply {
        HcallReply::ret(spapr_irq::papr::h::FUNCTION)
    }
    fn rtas_calls(&self) -> &'static [RtasCallDesc] {
        &[]
    }
    fn rtas(&self, _caller: Caller, _token: u32, _args: &[u32], _rets: &mut [u32]) {}
    fn migratables(&self) -> Vec<Arc<dyn Migratable>> {
        Vec::new()
    }
}

fn make_probe(_cfg: &ControllerConfig) -> Result<Arc<dyn InterruptController>, IrqError> {
    Ok(Arc::new(Probe {
        active: AtomicBool::new(false),
    }))
}

spapr_irq::inventory::submit! {
    Backend {
        name: "probe",
        capability: "probe",
        cas_ov5: 0x40,
        cas_mode: "probe mode",
        line_bit: 7,
        kvm_device_type: None,
        order: 99,
        factory: make_probe,
    }
}

#[test]
fn a_submitted_backend_is_listed_and_found() {
    assert!(backends().iter().any(|b| b.name == "probe"));
    let b = backend("probe").expect("registered");
    assert_eq!(b.capability, "probe");
    assert!(backend("nonexistent").is_none());
    assert_eq!(backend_for_cas(0xC0).map(|b| b.name), Some("probe"));
}

#[test]
fn the_factory_builds_a_working_trait_object() {
    let cfg = ControllerConfig {
        nr_xirqs: spapr_irq::numbering::NR_XIRQS,
        nr_servers: 2,
        guest_memory: vm_memory::GuestMemoryMmap::default(),
    };
    let c = (backend("probe").unwrap().factory)(&cfg).unwrap();
    assert!(!c.is_active());
    c.activate(2).unwrap();
    assert!(c.is_active());
    let mut text = String::new();
    c.print_info(&mut text).unwrap();
    assert_eq!(text, "probe\n");
    let mut sink = spapr_irq::dt::RecordingSink::default();
    c.dt_node(&mut sink, 2, 0x1111).unwrap();
    assert_eq!(sink.property("phandle"), Some(&0x1111u32.to_be_bytes()[..]));
    assert_eq!(
        c.claim_irq(0x1000, false).unwrap_err().to_string(),
        "IRQ 4096 is not free"
    );
}
