//! Migration sections: shape, round trip, and refusal before anything is
//! applied.

mod common;

use std::sync::Arc;

use common::Harness;
use migration::{Migratable, MigrationError, SectionState};
use serde::{Deserialize, Serialize};

fn section(t: &Harness, name: &str, instance: u32) -> Arc<dyn Migratable> {
    t.x.migratables()
        .into_iter()
        .find(|m| m.name() == name && m.instance_id() == instance)
        .unwrap()
}

#[derive(Serialize, Deserialize)]
struct XiveState {
    nr_irqs: u32,
    eat: Vec<Eas>,
    endt: Vec<End>,
}
#[derive(Serialize, Deserialize, Clone)]
struct Eas {
    w: u64,
}
#[derive(Serialize, Deserialize, Clone)]
struct End {
    w0: u32,
    w1: u32,
    w2: u32,
    w3: u32,
    w4: u32,
    w5: u32,
    w6: u32,
    w7: u32,
}
#[derive(Serialize, Deserialize)]
struct SourceState {
    nr_irqs: u32,
    status: Vec<u8>,
}
#[derive(Serialize, Deserialize)]
struct TctxState {
    regs: Vec<u8>,
}

fn busy() -> Harness {
    let t = Harness::new(2, 2);
    t.x.claim_irq(0x1200, true).unwrap();
    t.linux_queue(0);
    t.linux_queue(1);
    t.linux_source(0, 0, 16);
    t.linux_source(1, 1, 17);
    t.trigger(0);
    t.trigger(1);
    t.trigger(1);
    t.x.set_irq(0x1200, true);
    t
}

#[test]
fn sections_are_shaped_like_qemu() {
    let t = busy();
    let names: Vec<_> =
        t.x.migratables()
            .iter()
            .map(|m| (m.name().to_owned(), m.instance_id(), m.version_id()))
            .collect();
    assert_eq!(
        names,
        [
            ("xive-source".to_owned(), 0, 1),
            ("spapr-xive".to_owned(), 0, 1),
            ("xive-tctx".to_owned(), 0, 1),
            ("xive-tctx".to_owned(), 1, 1),
        ]
    );
    let x: XiveState = section(&t, "spapr-xive", 0)
        .save()
        .unwrap()
        .decode("t")
        .unwrap();
    assert_eq!((x.nr_irqs, x.eat.len(), x.endt.len()), (0x2000, 0x2000, 16));
    assert_eq!(x.endt[8 + 6].w0 >> 28, 0xE, "valid, enqueue, always notify");
    let s: SourceState = section(&t, "xive-source", 0)
        .save()
        .unwrap()
        .decode("t")
        .unwrap();
    assert_eq!(s.status.len(), 0x2000);
    assert_eq!(s.status[1], 3);
    assert_eq!(s.status[0x1200], 1 | 4, "off and asserted");
    let c: TctxState = section(&t, "xive-tctx", 1)
        .save()
        .unwrap()
        .decode("t")
        .unwrap();
    assert_eq!(c.regs.len(), 64);
    assert_eq!(&c.regs[0x18..0x1C], &[0x80, 0, 0x04, 0x01]);
}

fn transfer(src: &Harness, dst: &Harness) {
    let secs = src.x.migratables();
    let prepared: Vec<_> = secs
        .iter()
        .map(|s| {
            let d = section(dst, s.name(), s.instance_id());
            let p = d.prepare_load(1, &s.save().unwrap()).unwrap();
            (d, p)
        })
        .collect();
    for (d, p) in prepared {
        d.apply_load(p);
    }
    dst.x.post_load();
}

#[test]
fn round_trip_continues_where_the_source_stopped() {
    let a = busy();
    let b = Harness::new(2, 2);
    b.x.claim_irq(0x1200, true).unwrap();
    // Guest RAM travels separately: copy the queue pages.
    for s in 0..2 {
        for i in 0..4 {
            let w = a.entry(s, i);
            use vm_memory::Bytes;
            b.mem
                .write_slice(
                    &w.to_be_bytes(),
                    vm_memory::GuestAddress(Harness::queue_page(s) + 4 * i),
                )
                .unwrap();
        }
    }
    transfer(&a, &b);
    let mut sa = String::new();
    let mut sb = String::new();
    a.x.print_info(&mut sa).unwrap();
    b.x.print_info(&mut sb).unwrap();
    assert_eq!(sa, sb);
    assert!(b.raised(0) && b.raised(1), "lines re-driven from NSR");
    assert_eq!(b.ack(1), 0x8006);
    assert_eq!(b.esb(1, 0xC00), 3);
    b.trigger(1);
    assert_eq!(b.entry(1, 1), 0x8000_0011);
}

fn refused(t: &Harness, name: &str, instance: u32, version: u32, state: &SectionState) -> String {
    match section(t, name, instance).prepare_load(version, state) {
        Ok(_) => panic!("{name} accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_streams_are_refused_before_anything_is_applied() {
    let a = busy();
    let b = Harness::new(2, 2);
    let before = {
        let mut s = String::new();
        b.x.print_info(&mut s).unwrap();
        s
    };
    let x: XiveState = section(&a, "spapr-xive", 0)
        .save()
        .unwrap()
        .decode("t")
        .unwrap();
    let enc = |x: &XiveState| SectionState::encode("spapr-xive", x).unwrap();

    let mut bad = XiveState {
        nr_irqs: 0x1400,
        eat: x.eat.clone(),
        endt: x.endt.clone(),
    };
    assert!(refused(&b, "spapr-xive", 0, 1, &enc(&bad)).contains("nr_irqs: 1400 != 2000"));
    bad.nr_irqs = 0x2000;
    bad.endt.push(bad.endt[0].clone());
    assert!(refused(&b, "spapr-xive", 0, 1, &enc(&bad)).contains("endt has 17 entries"));
    bad.endt.pop();
    bad.eat.pop();
    assert!(refused(&b, "spapr-xive", 0, 1, &enc(&bad)).contains("eat has"));
    bad.eat.push(Eas {
        w: 0x8000_00FF_0000_0000,
    });
    assert!(refused(&b, "spapr-xive", 0, 1, &enc(&bad)).contains("routes to END"));
    bad.eat = x.eat.clone();
    // A queue outside guest RAM.
    bad.endt[6].w2 = 0x10;
    assert!(refused(&b, "spapr-xive", 0, 1, &enc(&bad)).contains("not aligned guest RAM"));
    // A misaligned queue.
    bad.endt[6].w2 = 0;
    bad.endt[6].w3 = x.endt[6].w3 + 0x1000;
    assert!(refused(&b, "spapr-xive", 0, 1, &enc(&bad)).contains("not aligned guest RAM"));
    // Unsupported queue size.
    bad.endt[6] = x.endt[6].clone();
    bad.endt[6].w0 = (bad.endt[6].w0 & !0xF_0000) | (3 << 16);
    assert!(refused(&b, "spapr-xive", 0, 1, &enc(&bad)).contains("queue size"));

    let s = SourceState {
        nr_irqs: 0x2000,
        status: vec![8; 0x2000],
    };
    let st = SectionState::encode("xive-source", &s).unwrap();
    assert!(refused(&b, "xive-source", 0, 1, &st).contains("status 0x8"));
    let s = SourceState {
        nr_irqs: 0x2000,
        status: vec![0; 12],
    };
    let st = SectionState::encode("xive-source", &s).unwrap();
    assert!(refused(&b, "xive-source", 0, 1, &st).contains("12 bytes"));

    let st = SectionState::encode("xive-tctx", &TctxState { regs: vec![0; 63] }).unwrap();
    assert!(refused(&b, "xive-tctx", 0, 1, &st).contains("63 bytes"));

    let good = section(&a, "xive-tctx", 0).save().unwrap();
    assert!(matches!(
        section(&b, "xive-tctx", 0).prepare_load(2, &good),
        Err(MigrationError::TooNew { .. })
    ));
    assert!(matches!(
        section(&b, "xive-tctx", 0).prepare_load(0, &good),
        Err(MigrationError::TooOld { .. })
    ));
    let mut with_sub = good.clone();
    with_sub
        .push_subsection("xive-tctx/extra", 1, &1u8)
        .unwrap();
    assert!(matches!(
        section(&b, "xive-tctx", 0).prepare_load(1, &with_sub),
        Err(MigrationError::UnknownSubsection { .. })
    ));
    let garbage = SectionState {
        fields: vec![0xC1, 0xFF],
        subsections: vec![],
    };
    assert!(section(&b, "spapr-xive", 0)
        .prepare_load(1, &garbage)
        .is_err());

    let mut after = String::new();
    b.x.print_info(&mut after).unwrap();
    assert_eq!(before, after, "nothing applied");
}
