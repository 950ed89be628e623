//! RTAS calls the machine owns, and the `H_RTAS` entry point that routes a
//! buffer to the interrupt controllers or to them.

use std::sync::atomic::Ordering;

use spapr_irq::papr::{h, rtas};

use crate::control::ExitReason;
use crate::events::EventClass;
use crate::hcall::{HcallOutcome, Outs};
use crate::machine::{Machine, VcpuSlot};
use crate::rtas::{parse_buffer, RtasBuffer, RtasCall};
use crate::rtc::CivilTime;

/// `RTAS_OUT_NO_ERRORS_FOUND`.
const NO_ERRORS_FOUND: i32 = 1;

impl Machine {
    /// `KVMPPC_H_RTAS`: r4 is the guest address of the RTAS buffer.
    pub(crate) fn h_rtas(&self, slot: &VcpuSlot, addr: u64) -> (i64, Outs, HcallOutcome) {
        let buf = match parse_buffer(addr, |a, b| self.ram.read(a, b)) {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(vcpu = slot.index, error = %e, "bad RTAS buffer");
                return (h::PARAMETER, Outs::NONE, HcallOutcome::Return);
            }
        };
        let mut rets = vec![0u32; buf.nret as usize];
        let caller = spapr_irq::Caller {
            vcpu: slot.index,
            timebase: self.timebase.read(),
        };
        let mut outcome = HcallOutcome::Return;
        let mut ret = h::SUCCESS;
        if self.irq.rtas(caller, buf.token, &buf.args, &mut rets) {
            // Served by an interrupt controller.
        } else if crate::phb::RTAS_CALLS.iter().any(|c| c.1 == buf.token) {
            self.phb.rtas(buf.token, &buf.args, &mut rets);
        } else if let Some(call) = RtasCall::from_token(buf.token) {
            outcome = self.rtas_call(slot, call, &buf, &mut rets);
        } else {
            tracing::debug!(token = buf.token, "unknown RTAS token");
            if let Some(r) = rets.first_mut() {
                *r = rtas::PARAMETER_ERROR as u32;
            }
            ret = h::PARAMETER;
        }
        if outcome == HcallOutcome::Stop {
            // stop-self never returns: nothing is written back.
            return (ret, Outs::NONE, outcome);
        }
        for (i, v) in rets.iter().enumerate() {
            if !self.ram.write_be32(buf.ret_addr(i as u32), *v) {
                return (h::PARAMETER, Outs::NONE, HcallOutcome::Return);
            }
        }
        (ret, Outs::NONE, outcome)
    }

    fn rtas_call(
        &self,
        slot: &VcpuSlot,
        call: RtasCall,
        b: &RtasBuffer,
        rets: &mut [u32],
    ) -> HcallOutcome {
        let nargs = b.args.len();
        let nret = rets.len();
        let st = |rets: &mut [u32], v: i32| {
            if let Some(r) = rets.first_mut() {
                *r = v as u32;
            }
        };
        match call {
            RtasCall::DisplayCharacter => {
                if nargs != 1 || nret != 1 {
                    st(rets, rtas::PARAMETER_ERROR);
                } else {
                    if let Some(v) = &self.vty {
                        v.put(&[b.args[0] as u8]);
                    }
                    st(rets, rtas::SUCCESS);
                }
            }
            RtasCall::GetTimeOfDay => {
                if nargs != 0 || nret != 8 {
                    st(rets, rtas::PARAMETER_ERROR);
                } else {
                    let t = self.inner.lock().rtc.now();
                    let v = [
                        0,
                        t.year as u32,
                        t.month,
                        t.day,
                        t.hour,
                        t.minute,
                        t.second,
                        t.nanos,
                    ];
                    rets.copy_from_slice(&v);
                }
            }
            RtasCall::SetTimeOfDay => {
                if nargs != 7 || nret != 1 {
                    st(rets, rtas::PARAMETER_ERROR);
                } else {
                    let a = &b.args;
                    let t = CivilTime {
                        year: i64::from(a[0]),
                        month: a[1],
                        day: a[2],
                        hour: a[3],
                        minute: a[4],
                        second: a[5],
                        nanos: a[6],
                    };
                    if t.is_valid() {
                        self.inner.lock().rtc.set(&t);
                        st(rets, rtas::SUCCESS);
                    } else {
                        st(rets, rtas::PARAMETER_ERROR);
                    }
                }
            }
            RtasCall::PowerOff => {
                if nargs != 2 || nret != 1 {
                    st(rets, rtas::PARAMETER_ERROR);
                } else {
                    st(rets, rtas::SUCCESS);
                    self.request_exit(ExitReason::PowerOff);
                    // The caller must not run on while the machine stops.
                    return HcallOutcome::Stop;
                }
            }
            RtasCall::SystemReboot => {
                if nargs != 0 || nret != 1 {
                    st(rets, rtas::PARAMETER_ERROR);
                } else {
                    st(rets, rtas::SUCCESS);
                    self.request_reset();
                }
            }
            RtasCall::QueryCpuStoppedState => {
                if nargs != 1 || nret != 2 {
                    st(rets, rtas::PARAMETER_ERROR);
                } else if let Some(t) = self.slot_by_server(u64::from(b.args[0])) {
                    // PAPR's stopped state is the RTAS one only: a vCPU
                    // idle in H_CEDE is running (QEMU 7.2 says stopped).
                    rets[0] = 0;
                    rets[1] = if t.stopped.load(Ordering::Acquire) {
                        0
                    } else {
                        2
                    };
                } else {
                    st(rets, rtas::PARAMETER_ERROR);
                }
            }
            RtasCall::StartCpu => {
                if nargs != 3 || nret != 1 {
                    st(rets, rtas::PARAMETER_ERROR);
                } else if let Some(t) = self.slot_by_server(u64::from(b.args[0])) {
                    let mut run = t.run.lock();
                    if !run.stopped || run.start.is_some() {
                        st(rets, rtas::HW_ERROR);
                    } else {
                        run.start = Some((u64::from(b.args[1]), u64::from(b.args[2])));
                        drop(run);
                        t.inputs.kick();
                        st(rets, rtas::SUCCESS);
                    }
                } else {
                    st(rets, rtas::PARAMETER_ERROR);
                }
            }
            RtasCall::StopSelf => {
                let _ = slot;
                return HcallOutcome::Stop;
            }
            RtasCall::GetSystemParameter => self.rtas_get_system_parameter(b, rets),
            RtasCall::CheckException => {
                if !(6..=7).contains(&nargs) || nret != 1 {
                    st(rets, rtas::PARAMETER_ERROR);
                } else {
                    let (mask, addr, len) = (b.args[2], u64::from(b.args[4]), u64::from(b.args[5]));
                    let event = self.inner.lock().events.take(mask);
                    match event {
                        None => st(rets, NO_ERRORS_FOUND),
                        Some(e) => {
                            let bytes = e.to_bytes();
                            let n = (bytes.len() as u64).min(len) as usize;
                            // QEMU writes the whole log whatever the length;
                            // we write what fits in the buffer the guest gave.
                            let _ = self.ram.write(addr, &bytes[..n]);
                            st(rets, rtas::SUCCESS);
                            self.repulse_events();
                        }
                    }
                }
            }
            RtasCall::EventScan => {
                if nargs != 4 || nret != 1 {
                    st(rets, rtas::PARAMETER_ERROR);
                } else {
                    self.repulse_events();
                    st(rets, NO_ERRORS_FOUND);
                }
            }
            RtasCall::NvramFetch | RtasCall::NvramStore => {
                if nargs != 3 || nret != 2 {
                    st(rets, rtas::PARAMETER_ERROR);
                } else {
                    let (off, addr, len) = (
                        u64::from(b.args[0]),
                        u64::from(b.args[1]),
                        u64::from(b.args[2]),
                    );
                    let mut nv = self.nvram.lock();
                    match nv.range(off, len) {
                        None => {
                            rets[0] = rtas::PARAMETER_ERROR as u32;
                            rets[1] = 0;
                        }
                        Some(r) => {
                            let ok = if call == RtasCall::NvramFetch {
                                self.ram.write(addr, &nv.data[r])
                            } else {
                                self.ram.read(addr, &mut nv.data[r])
                            };
                            rets[0] = if ok { rtas::SUCCESS } else { rtas::HW_ERROR } as u32;
                            rets[1] = if ok { len as u32 } else { 0 };
                        }
                    }
                }
            }
            RtasCall::OsTerm => {
                if nargs != 1 || nret != 1 {
                    st(rets, rtas::PARAMETER_ERROR);
                } else {
                    tracing::error!("guest panicked (ibm,os-term)");
                    st(rets, rtas::SUCCESS);
                    self.request_exit(ExitReason::GuestPanic);
                }
            }
        }
        HcallOutcome::Return
    }

    /// Pulses each event source that still has events queued (QEMU's
    /// edge-triggered re-assertion after `check-exception` and at
    /// `event-scan`).
    fn repulse_events(&self) {
        let (epow, hp) = {
            let inner = self.inner.lock();
            (
                inner.events.contains(EventClass::Epow.mask()),
                inner.events.contains(EventClass::HotPlug.mask()),
            )
        };
        if epow {
            self.pulse_irq(self.epow_irq);
        }
        if let (true, Some(irq)) = (hp, self.hotplug_irq) {
            self.pulse_irq(irq);
        }
    }

    /// `ibm,get-system-parameter`: the SPLPAR characteristics, the
    /// diagnostics run mode and the UUID, as QEMU answers them.
    fn rtas_get_system_parameter(&self, b: &RtasBuffer, rets: &mut [u32]) {
        if b.args.len() != 3 || rets.len() != 1 {
            if let Some(r) = rets.first_mut() {
                *r = rtas::PARAMETER_ERROR as u32;
            }
            return;
        }
        let (param, addr, len) = (b.args[0], u64::from(b.args[1]), u64::from(b.args[2]));
        let payload: Vec<u8> = match param {
            20 => {
                let s = format!(
                    "MaxEntCap={},DesMem={},DesProcs={},MaxPlatProcs={}",
                    self.cfg.smp.maxcpus * 100,
                    self.cfg.ram_size >> 20,
                    self.cfg.smp.cpus,
                    self.cfg.smp.maxcpus
                );
                let mut v = (s.len() as u16 + 1).to_be_bytes().to_vec();
                v.extend_from_slice(s.as_bytes());
                v.push(0);
                v
            }
            42 => vec![0, 1, 0],
            48 => {
                let mut v = 16u16.to_be_bytes().to_vec();
                v.extend_from_slice(&[0; 16]);
                v
            }
            _ => {
                rets[0] = rtas::PARAMETER_ERROR as u32;
                return;
            }
        };
        let n = (payload.len() as u64).min(len) as usize;
        rets[0] = if self.ram.write(addr, &payload[..n]) {
            rtas::SUCCESS
        } else {
            rtas::HW_ERROR
        } as u32;
    }
}
