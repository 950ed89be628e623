/*
 * XIVE exploitation mode: the device-tree view, H_INT_* hcalls and their
 * refusals, the ESB PQ state machine through the MMIO pages, TIMA ack and
 * CPPR, event queues (generation bit over a full wrap), IPIs between vCPUs
 * by ESB trigger of the IPI LISN, events for a vCPU that is not running
 * yet, an LSI through H_INT_ESB, the vty interrupt, H_INT_SYNC and
 * H_INT_RESET.
 *
 * The vty check needs console input and announces `WAIT: key`.
 */
#include "intc.h"

static struct xive_source ipi0, ipi1;
static volatile uint64_t count[MAX_CPUS], pings, pongs, ping_pong;
static volatile uint32_t last_src[MAX_CPUS];
static volatile uint64_t cmd, cmd_done;

static const char *rc_name(long rc)
{
	static char buf[8][24];
	static int n;
	char *b = buf[n++ % 8];

	if (hcall_rc_name(rc))
		return hcall_rc_name(rc);
	snprintf(b, 24, "%ld", rc);
	return b;
}

static unsigned pq(const struct xive_source *s)
{
	return xive_esb_load(s, XIVE_ESB_GET) & 3;
}

/* Pop every pending entry of CPU 0's queue: returns how many, and the
 * last EISN in *eisn. */
static int drain(uint32_t *eisn)
{
	uint32_t e;
	int n = 0;

	while ((e = xive_queue_pop(0))) {
		n++;
		if (eisn)
			*eisn = e;
	}
	return n;
}

/* End of a step: ack what is presented, empty the queue, EOI the IPI
 * source and accept everything again. */
static void settle(void)
{
	xive_ack();
	drain(NULL);
	xive_esb_load(&ipi0, XIVE_ESB_SET_PQ_00);
	xive_set_cppr(0xff);
	xive_ack();
	xive_set_cppr(0xff);
}

static void dt_view(void)
{
	report_info("TIMA OS page 0x%lx, IPI LISNs %u..%u, queue size 2^%u, priority %u",
		    xive.tima_os, xive.ipi_base, xive.ipi_base + xive.ipi_count - 1,
		    xive.eq_shift, xive.prio);
	report(xive.ipi_count >= (uint32_t)nr_cpus, "one IPI LISN per CPU (%u for %d)",
	       xive.ipi_count, nr_cpus);
	report(xive_source_info(xive.ipi_base, &ipi0) == H_SUCCESS &&
	       xive_source_info(xive.ipi_base + 1, &ipi1) == H_SUCCESS,
	       "H_INT_GET_SOURCE_INFO on the IPI LISNs");
	report_info("IPI %u: flags 0x%lx, EOI page 0x%lx, trigger page 0x%lx, shift %u",
		    ipi0.lisn, ipi0.flags, ipi0.eoi_page, ipi0.trig_page, ipi0.shift);
	report(!(ipi0.flags & (XIVE_SRC_H_INT_ESB | XIVE_SRC_LSI)) &&
	       !(ipi0.eoi_page & ((1ull << ipi0.shift) - 1)) &&
	       !(ipi0.trig_page & ((1ull << ipi0.shift) - 1)),
	       "IPI source: MMIO pages, page-aligned, not an LSI");
}

static void refusals(void)
{
	uint32_t s0 = cpus[0].server, p = xive.prio;
	uint64_t q = (uint64_t)xive.queues[0].qpage, out[4];
	long rc;

	rc = hcall(H_INT_GET_SOURCE_INFO, 1, ipi0.lisn);
	report(rc == H_PARAMETER, "GET_SOURCE_INFO with flags: %s", rc_name(rc));
	rc = hcall(H_INT_GET_SOURCE_INFO, 0, 0x7fffffff);
	report(rc == H_P2, "GET_SOURCE_INFO of LISN 0x7fffffff: %s", rc_name(rc));
	rc = hcall(H_INT_SET_QUEUE_CONFIG, 1, s0, 7, q, xive.eq_shift);
	report(rc == H_P3, "SET_QUEUE_CONFIG at reserved priority 7: %s", rc_name(rc));
	rc = hcall(H_INT_SET_QUEUE_CONFIG, 1, 0xfffff, p, q, xive.eq_shift);
	report(rc == H_P2, "SET_QUEUE_CONFIG for target 0xfffff: %s", rc_name(rc));
	rc = hcall(H_INT_SET_QUEUE_CONFIG, 1, s0, p, q + 0x1000, xive.eq_shift);
	report(rc == H_P4, "SET_QUEUE_CONFIG of a misaligned queue: %s", rc_name(rc));
	rc = hcall(H_INT_SET_QUEUE_CONFIG, 1, s0, p, q, 13);
	report(rc == H_P5, "SET_QUEUE_CONFIG with queue size 2^13: %s", rc_name(rc));
	rc = hcall(H_INT_SET_QUEUE_CONFIG, 2, s0, p, q, xive.eq_shift);
	report(rc == H_PARAMETER, "SET_QUEUE_CONFIG with unknown flags: %s", rc_name(rc));
	rc = hcall(H_INT_SET_SOURCE_CONFIG, 2, ipi0.lisn, s0, 7, 1);
	report(rc == H_P4, "SET_SOURCE_CONFIG at reserved priority 7: %s", rc_name(rc));
	rc = hcall(H_INT_SET_SOURCE_CONFIG, 2, ipi0.lisn, 0xfffff, p, 1);
	report(rc == H_P3, "SET_SOURCE_CONFIG to target 0xfffff: %s", rc_name(rc));
	rc = hcall(H_INT_SET_SOURCE_CONFIG, 4, ipi0.lisn, s0, p, 1);
	report(rc == H_PARAMETER, "SET_SOURCE_CONFIG with unknown flags: %s", rc_name(rc));
	rc = hcall(H_INT_GET_QUEUE_INFO, 0, s0, 7);
	report(rc == H_P3, "GET_QUEUE_INFO at reserved priority 7: %s", rc_name(rc));

	rc = hcall_ret(H_INT_GET_SOURCE_CONFIG, out, 0, ipi0.lisn);
	report(rc == H_SUCCESS && out[0] == s0 && out[1] == p && out[2] == (INTC_SRC_IPI | 0),
	       "GET_SOURCE_CONFIG: target %lu, priority %lu, EISN 0x%lx", out[0], out[1], out[2]);
	rc = hcall_ret(H_INT_GET_QUEUE_CONFIG, out, 0, s0, p);
	report(rc == H_SUCCESS && (out[0] & 1) && out[1] == q && out[2] == xive.eq_shift,
	       "GET_QUEUE_CONFIG: always-notify, our queue page, size 2^%lu", out[2]);
	report(hcall(H_INT_SYNC, 0, ipi0.lisn) == H_SUCCESS, "H_INT_SYNC");
	rc = hcall(H_INT_SYNC, 1, ipi0.lisn);
	report(rc == H_PARAMETER, "H_INT_SYNC with flags: %s", rc_name(rc));
	report_info("XICS H_CPPR in XIVE mode: %s", rc_name(hcall(H_CPPR, 0xff)));
}

/* The PQ bits and the thread context, on CPU 0's own IPI with EE=0. */
static void state_machine(void)
{
	uint32_t eisn = 0, w;
	uint64_t old;
	uint16_t ack;

	xive_set_cppr(0xff);
	old = xive_esb_load(&ipi0, XIVE_ESB_SET_PQ_01);
	report(old == 0 && pq(&ipi0) == 1, "load 0xd00 masks (PQ 00 -> 01)");
	xive_esb_trigger(&ipi0);
	report(drain(NULL) == 0 && pq(&ipi0) == 1, "trigger while PQ=01: no event, PQ stays 01");

	old = xive_esb_load(&ipi0, XIVE_ESB_SET_PQ_00);
	xive_esb_trigger(&ipi0);
	w = xive_tima_word0();
	report(old == 1 && pq(&ipi0) == 2, "load 0xc00 unmasks; trigger sets P (PQ 10)");
	report((w >> 24) == 0x80 && ((w >> 8) & 0xff) == (0x80u >> xive.prio),
	       "TIMA OS ring: NSR EO set, IPB bit of priority %u (word 0x%08x)", xive.prio, w);
	ack = xive_ack();
	report(ack == (0x8000 | xive.prio), "ack: 0x%04x (NSR 0x80, CPPR %u)", ack, xive.prio);
	ack = xive_ack();
	report(ack == xive.prio, "second ack: 0x%04x", ack);
	report(drain(&eisn) == 1 && eisn == (INTC_SRC_IPI | 0), "one queue entry, EISN 0x%x", eisn);

	xive_esb_trigger(&ipi0);
	report(pq(&ipi0) == 3 && drain(NULL) == 0, "trigger before EOI: PQ 11, no second event");
	old = xive_esb_load(&ipi0, XIVE_ESB_SET_PQ_00);
	report(old == 3, "EOI (load 0xc00) returns 3: the guest must replay");
	xive_esb_trigger(&ipi0);
	w = xive_tima_word0();
	report(drain(NULL) == 1 && (w >> 24) == 0, "replayed event queued, not presented at CPPR %u",
	       xive.prio);
	xive_set_cppr(0xff);
	w = xive_tima_word0();
	report((w >> 24) == 0x80, "CPPR 0xff presents it (NSR 0x%02x)", w >> 24);
	settle();

	old = xive_esb_load(&ipi0, XIVE_ESB_SET_PQ_11);
	report(old == 0, "load 0xf00 sets PQ 11 (was %lu)", old);
	old = xive_esb_load(&ipi0, XIVE_ESB_SET_PQ_00);
	xive_esb_trigger(&ipi0);
	report(old == 3 && drain(NULL) == 1, "EOI sees Q, the replay gives exactly one event");
	settle();

	xive_esb_trigger(&ipi0);
	report(xive_esb_load(&ipi0, XIVE_ESB_SET_PQ_01) == 2 &&
	       xive_esb_load(&ipi0, XIVE_ESB_SET_PQ_10) == 1 &&
	       xive_esb_load(&ipi0, XIVE_ESB_SET_PQ_00) == 2 && drain(NULL) == 1,
	       "mask with an event in flight, unmask with P: no duplicate, no loss");
	settle();

	xive_set_cppr(0);
	xive_esb_trigger(&ipi0);
	w = xive_tima_word0();
	report((w >> 24) == 0 && ((w >> 8) & 0xff) == (0x80u >> xive.prio),
	       "CPPR 0: event pending in IPB, not presented");
	xive_set_cppr(0xff);
	report((xive_tima_word0() >> 24) == 0x80, "CPPR 0xff presents it");
	settle();
}

/* Fill a fresh queue once and a bit: the generation bit flips at the wrap
 * and no event is lost. */
static void queue_wrap(void)
{
	struct xive_queue *q = &xive.queues[0];
	uint32_t i, n, bad = 0, raw;
	long rc = xive_queue_setup(0);

	report(rc == H_SUCCESS, "queue reconfigured: %s", rc_name(rc));
	n = q->entries + 2;
	for (i = 0; i < n; i++) {
		xive_esb_trigger(&ipi0);
		if (xive_queue_pop(0) != (INTC_SRC_IPI | 0))
			bad++;
		xive_esb_load(&ipi0, XIVE_ESB_SET_PQ_00);
	}
	raw = __builtin_bswap32(q->qpage[0]);
	report(bad == 0 && q->toggle == 1 && (raw >> 31) == 0,
	       "%u events through a %u-entry queue: none lost, generation bit flipped at the wrap",
	       n, q->entries);
	settle();
}

static void on_irq(uint32_t src)
{
	struct cpu *c = this_cpu();

	count[c->index]++;
	last_src[c->index] = src;
	if (src == INTC_SRC_IPI && ping_pong) {
		if (c->index == 1) {
			pings++;
			intc_send_ipi(0);
		} else {
			pongs++;
		}
	}
}

static void worker(void *arg)
{
	(void)arg;
	intc_set_callback(on_irq);
	intc_cpu_enable();
	for (;;) {
		uint64_t c = cmd;

		if (c != cmd_done) {
			if (c == 0x100)
				break;
			xive_set_cppr(c & 0xff);
			cmd_done = c;
		}
		dec_write(tb_ms(1));
		hcall(H_CEDE);
		irq_disable();
	}
	intc_cpu_disable();
}

static bool done_is(void *arg)
{
	return cmd_done == (uint64_t)arg;
}

static void cpu1_cppr(uint32_t cppr)
{
	cmd = cppr | 0x200 | ((cmd + 0x1000) & ~0xfffull);
	wait_until(done_is, (void *)cmd, tb_ms(5000));
}

static bool reached(void *arg)
{
	uint64_t *a = arg;

	return *(volatile uint64_t *)a[0] >= a[1];
}

static bool wait_count(volatile uint64_t *p, uint64_t n, uint64_t timeout)
{
	uint64_t a[2] = { (uint64_t)p, n };

	return wait_until(reached, a, timeout);
}

static void ipis(void)
{
	uint32_t *q1 = xive.queues[1].qpage, e;
	uint64_t i, before;

	/* CPU 1 is not running yet, but its queue is configured. */
	xive_esb_trigger(&ipi1);
	e = __builtin_bswap32(q1[0]);
	report(e == (0x80000000u | INTC_SRC_IPI | 1),
	       "IPI to CPU %u before it runs: entry 0x%08x in its queue", cpus[1].server, e);
	if (smp_start(1, worker, NULL)) {
		report(false, "start-cpu of CPU %u", cpus[1].server);
		return;
	}
	report(wait_count(&count[1], 1, tb_ms(5000)) && last_src[1] == INTC_SRC_IPI,
	       "delivered once CPU %u accepts interrupts", cpus[1].server);

	ping_pong = 1;
	for (i = 1; i <= 20; i++) {
		intc_send_ipi(1);
		if (!wait_count(&pongs, i, tb_ms(5000)))
			break;
	}
	ping_pong = 0;
	report(pings == 20 && pongs == 20, "20 IPI round trips CPU %u <-> CPU %u (ESB trigger)",
	       cpus[0].server, cpus[1].server);

	cpu1_cppr(0);
	before = count[1];
	intc_send_ipi(1);
	delay_tb(tb_ms(20));
	report(count[1] == before, "IPI to CPU %u at CPPR 0 waits", cpus[1].server);
	cpu1_cppr(0xff);
	report(wait_count(&count[1], before + 1, tb_ms(5000)), "taken once it sets CPPR 0xff");
}

/* The first LSI in the PCI host bridge's interrupt-map (QEMU: 0x1200). */
static uint32_t find_lsi(void)
{
	int node = fdt_find_device_type(0, "pci"), len;
	uint32_t acells = 3, icells = 1;
	const char *map = fdt_prop(node, "interrupt-map", &len);

	fdt_prop_u32(node, "#address-cells", 0, &acells);
	fdt_prop_u32(node, "#interrupt-cells", 0, &icells);
	/* child address, child specifier, phandle, then (irq, sense). */
	if (!map || len < (int)(4 * (acells + icells + 3)))
		return 0;
	if (be32(map + 4 * (acells + icells + 2)) != 1)
		return 0;
	return be32(map + 4 * (acells + icells + 1));
}

static void lsi(void)
{
	uint32_t irq = find_lsi(), eisn = 0;
	struct xive_source s;
	uint64_t out[4];
	long rc;

	if (!irq) {
		report_skip("no LSI found in a PCI interrupt-map");
		return;
	}
	rc = xive_source_info(irq, &s);
	report(rc == H_SUCCESS && (s.flags & (XIVE_SRC_H_INT_ESB | XIVE_SRC_LSI)) ==
	       (XIVE_SRC_H_INT_ESB | XIVE_SRC_LSI) && s.eoi_page == ~0ull && s.trig_page == ~0ull,
	       "LSI 0x%x: flags 0x%lx (H_INT_ESB | LSI), no ESB pages", irq, s.flags);
	rc = xive_route(irq, 0, irq);
	report(rc == H_SUCCESS, "LSI routed to CPU %u: %s", cpus[0].server, rc_name(rc));
	rc = hcall_ret(H_INT_ESB, out, 0, irq, XIVE_ESB_SET_PQ_00, 0);
	report(rc == H_SUCCESS, "H_INT_ESB load 0xc00: %s", rc_name(rc));
	report_info("H_INT_ESB load 0xc00 returned 0x%lx (PQ after reset is 01)", out[0]);
	report((out[0] & 0xff) == 1, "H_INT_ESB returns the old PQ in the low byte");
	rc = hcall_ret(H_INT_ESB, out, 1, irq, 0, 0);
	report(rc == H_SUCCESS && drain(&eisn) == 1 && eisn == irq,
	       "H_INT_ESB store at 0: one event, EISN 0x%x", eisn);
	rc = hcall_ret(H_INT_ESB, out, 0, irq, XIVE_ESB_LOAD_EOI, 0);
	report(rc == H_SUCCESS && drain(NULL) == 0,
	       "H_INT_ESB load-EOI of a line that is not asserted: no new event");
	rc = hcall(H_INT_ESB, 2, irq, 0, 0);
	report(rc == H_PARAMETER, "H_INT_ESB with unknown flags: %s", rc_name(rc));
	rc = hcall(H_INT_ESB, 0, irq, (1ull << 17) + 8, 0);
	report(rc == H_P3, "H_INT_ESB beyond the page: %s", rc_name(rc));
	rc = hcall(H_INT_ESB, 0, 0x7fffffff, 0, 0);
	report(rc == H_P2, "H_INT_ESB on LISN 0x7fffffff: %s", rc_name(rc));
	hcall(H_INT_SET_SOURCE_CONFIG, 0, irq, cpus[0].server, 0xff, 0);
	settle();
}

static uint64_t timeout(void)
{
	uint64_t s = 30;

	bootarg_u64("timeout", &s);
	return s * tb_hz;
}

static void vty(void)
{
	uint64_t before = count[0];
	long rc;
	int c;

	if (!console_irq) {
		report_skip("no vty interrupt in the device tree");
		return;
	}
	rc = intc_route(console_irq, 0);
	report(rc == H_SUCCESS, "vty interrupt 0x%x routed to CPU %u", console_irq, cpus[0].server);
	while (console_getc() >= 0)
		;
	irq_enable();
	printf("WAIT: key\n");
	report(wait_count(&count[0], before + 1, timeout()) && last_src[0] == console_irq,
	       "vty interrupt delivered with EISN 0x%x", last_src[0]);
	c = console_getc();
	report(c >= 0, "read '%c'", c >= 32 && c < 127 ? c : '?');
	irq_disable();
	hcall(H_INT_SET_SOURCE_CONFIG, 0, console_irq, cpus[0].server, 0xff, 0);
}

static void reset(void)
{
	uint64_t out[4];
	long rc;

	cmd = 0x100;
	smp_wait_stopped(1, tb_ms(5000));
	rc = hcall(H_INT_RESET, 0);
	report(rc == H_SUCCESS, "H_INT_RESET: %s", rc_name(rc));
	rc = hcall_ret(H_INT_GET_SOURCE_CONFIG, out, 0, ipi0.lisn);
	report(rc == H_SUCCESS && out[1] == 0xff,
	       "after reset the IPI source is masked (priority 0x%lx)", out[1]);
	rc = hcall_ret(H_INT_GET_QUEUE_CONFIG, out, 0, cpus[0].server, xive.prio);
	report(rc == H_SUCCESS && out[2] == 0, "after reset the queue is disabled (size %lu)",
	       out[2]);
	report(hcall(H_INT_RESET, 1) == H_PARAMETER, "H_INT_RESET with flags: H_PARAMETER");
}

int main(void)
{
	if (!cas_offers_xive()) {
		report_skip("the platform does not offer XIVE");
		return report_summary();
	}
	if (intc_init(true) != INTC_XIVE)
		return report_summary();
	report(true, "CAS negotiated XIVE");
	dt_view();
	refusals();
	state_machine();
	queue_wrap();
	lsi();
	intc_set_callback(on_irq);
	if (nr_cpus >= 2)
		ipis();
	else
		report_skip("IPI checks need 2 vCPUs");
	vty();
	reset();
	return report_summary();
}
