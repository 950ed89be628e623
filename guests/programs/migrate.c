/*
 * Interrupt state across a migration.  The guest leaves interrupts
 * pending, queued and masked in well-known ways, prints `WAIT: migrate`
 * and polls the console for a key (the harness migrates the VM meanwhile
 * and sends the key to the destination), then checks that every piece of
 * that state came through, and that it still works: the pending
 * interrupts are delivered once accepted, the other vCPU starts and gets
 * its own, the decrementer still fires.
 *
 * XIVE when the platform offers it, XICS otherwise or with -append xics.
 */
#include "intc.h"

#define PATTERN_WORDS (256 * 1024)	/* 2 MiB of memory contents */

static volatile uint64_t count[MAX_CPUS], dec_fired;
static volatile uint32_t last_src[MAX_CPUS];
static uint64_t *pattern;

struct snapshot {
	uint32_t word0, pq_ipi0, pq_ipi1, pq_epow;
	uint32_t q0_entry, q1_entry, q0_idx;
	uint64_t epow_cfg[3];
	uint32_t xirr0, mfrr0, xirr1, mfrr1;
	uint32_t epow_server, epow_prio;
};

static struct xive_source ipi0, ipi1, epow;
static uint32_t epow_irq;

static void on_irq(uint32_t src)
{
	struct cpu *c = this_cpu();

	count[c->index]++;
	last_src[c->index] = src;
}

static void on_dec(struct frame *f)
{
	(void)f;
	dec_fired++;
	dec_write(0x7fffffff);
}

static void fill_pattern(void)
{
	uint64_t i;

	pattern = alloc(PATTERN_WORDS * 8, 4096);
	for (i = 0; i < PATTERN_WORDS; i++)
		pattern[i] = i * 0x9e3779b97f4a7c15ull ^ 0x5555aaaa5555aaaaull;
}

static bool pattern_ok(void)
{
	uint64_t i;

	for (i = 0; i < PATTERN_WORDS; i++)
		if (pattern[i] != (i * 0x9e3779b97f4a7c15ull ^ 0x5555aaaa5555aaaaull))
			return false;
	return true;
}

static uint32_t ipoll(uint32_t server, uint32_t *mfrr)
{
	uint64_t out[4];

	hcall_ret(H_IPOLL, out, server);
	*mfrr = (uint32_t)out[1];
	return (uint32_t)out[0];
}

/* --- arming --- */

static void arm_xive(void)
{
	xive_source_info(xive.ipi_base, &ipi0);
	xive_source_info(xive.ipi_base + 1, &ipi1);
	xive_source_info(epow_irq, &epow);
	xive_set_cppr(0);			/* nothing gets presented */
	xive_esb_trigger(&ipi0);		/* queued: PQ 10 */
	xive_esb_trigger(&ipi0);		/* and again: PQ 11 */
	if (nr_cpus > 1)
		xive_esb_trigger(&ipi1);	/* into the stopped CPU's queue */
	xive_route(epow_irq, 0, epow_irq);	/* routed but masked: PQ 01 */
}

static void snap_xive(struct snapshot *s)
{
	uint64_t out[4];

	s->word0 = xive_tima_word0();
	s->pq_ipi0 = xive_esb_load(&ipi0, XIVE_ESB_GET) & 3;
	s->pq_ipi1 = nr_cpus > 1 ? xive_esb_load(&ipi1, XIVE_ESB_GET) & 3 : 0;
	s->pq_epow = xive_esb_load(&epow, XIVE_ESB_GET) & 3;
	s->q0_entry = __builtin_bswap32(xive.queues[0].qpage[0]);
	s->q1_entry = nr_cpus > 1 ? __builtin_bswap32(xive.queues[1].qpage[0]) : 0;
	s->q0_idx = xive.queues[0].idx;
	hcall_ret(H_INT_GET_SOURCE_CONFIG, out, 0, epow_irq);
	memcpy(s->epow_cfg, out, sizeof(s->epow_cfg));
}

static void arm_xics(void)
{
	hcall(H_CPPR, 0);
	hcall(H_IPI, cpus[0].server, XICS_IPI_PRIO);
	if (nr_cpus > 1)
		hcall(H_IPI, cpus[1].server, 6);
	rtas_call("ibm,set-xive", 3, 1, NULL, epow_irq, cpus[0].server, XICS_DEV_PRIO);
	rtas_call("ibm,int-off", 1, 1, NULL, epow_irq);
}

static void snap_xics(struct snapshot *s)
{
	uint32_t r[2] = { 0, 0 };

	s->xirr0 = ipoll(cpus[0].server, &s->mfrr0);
	if (nr_cpus > 1)
		s->xirr1 = ipoll(cpus[1].server, &s->mfrr1);
	rtas_call("ibm,get-xive", 1, 3, r, epow_irq);
	s->epow_server = r[0];
	s->epow_prio = r[1];
}

/* --- after the migration --- */

static bool reached(void *arg)
{
	uint64_t *a = arg;

	return *(volatile uint64_t *)a[0] >= a[1];
}

static bool wait_count(volatile uint64_t *p, uint64_t n)
{
	uint64_t a[2] = { (uint64_t)p, n };

	return wait_until(reached, a, tb_ms(5000));
}

static void second_cpu(void *arg)
{
	(void)arg;
	intc_set_callback(on_irq);
	intc_cpu_enable();
	irq_enable();
	while (!count[1])
		hcall(H_CEDE);
	irq_disable();
	intc_cpu_disable();
}

static void deliver(void)
{
	intc_set_callback(on_irq);
	intc_cpu_enable();
	irq_enable();
	/* XIVE: the queued event, then the replay its EOI finds in Q. */
	report(wait_count(&count[0], intc_mode == INTC_XIVE ? 2 : 1) &&
	       last_src[0] == INTC_SRC_IPI,
	       "pending IPI delivered on CPU %u once accepted (%lu interrupt(s))",
	       cpus[0].server, (uint64_t)count[0]);
	irq_disable();
	if (nr_cpus > 1) {
		int rc = smp_start(1, second_cpu, NULL);

		report(rc == 0 && wait_count(&count[1], 1) && last_src[1] == INTC_SRC_IPI,
		       "CPU %u started after migration and got its pending IPI", cpus[1].server);
		smp_wait_stopped(1, tb_ms(5000));
	}
	set_dec_handler(on_dec);
	dec_write(tb_ms(5));
	irq_enable();
	report(wait_count(&dec_fired, 1), "decrementer interrupts still arrive");
	irq_disable();
}

/*
 * Poll for the key without ceding: after an incoming migration QEMU 7.2
 * (TCG) does not re-arm the decrementer until the guest writes DEC again,
 * so a vCPU asleep in H_CEDE across the migration would never wake up.
 */
static bool wait_key(uint64_t timeout)
{
	uint64_t start = tb_read();

	while (tb_read() - start < timeout) {
		if (console_getc() >= 0)
			return true;
		cpu_relax();
	}
	return false;
}

int main(void)
{
	struct snapshot before, after;
	bool xive_mode = cas_offers_xive() && !bootarg("xics");
	uint64_t tb0, tb1, secs = 300;
	int node = fdt_path("/event-sources/epow-events");

	if (!fdt_prop_u32(node, "interrupts", 0, &epow_irq))
		abort_msg("no /event-sources/epow-events interrupt");
	if (intc_init(xive_mode) == INTC_NONE)
		return report_summary();
	report(true, "CAS negotiated %s", intc_name(intc_mode));
	fill_pattern();
	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	if (intc_mode == INTC_XIVE) {
		arm_xive();
		snap_xive(&before);
	} else {
		arm_xics();
		snap_xics(&before);
	}
	while (console_getc() >= 0)
		;
	bootarg_u64("timeout", &secs);
	tb0 = tb_read();
	printf("WAIT: migrate (then press a key)\n");
	if (!wait_key(secs * tb_hz)) {
		report(false, "no key within %lu s", secs);
		return report_summary();
	}
	tb1 = tb_read();
	printf("TIME: %lu ms between the WAIT line and the key\n", (tb1 - tb0) / tb_ms(1));
	report(tb1 > tb0, "timebase moved forward");
	report(pattern_ok(), "2 MiB of memory contents intact");

	if (intc_mode == INTC_XIVE) {
		snap_xive(&after);
		report(after.word0 == before.word0,
		       "TIMA OS ring unchanged: 0x%08x (CPPR 0, IPB bit of priority %u)",
		       after.word0, xive.prio);
		report(after.pq_ipi0 == 3 && after.pq_ipi0 == before.pq_ipi0,
		       "IPI %u PQ still 11", ipi0.lisn);
		report(after.pq_epow == 1 && after.pq_epow == before.pq_epow,
		       "source 0x%x PQ still 01 (off)", epow_irq);
		report(!memcmp(after.epow_cfg, before.epow_cfg, sizeof(after.epow_cfg)),
		       "source 0x%x routing unchanged: target %lu, priority %lu, EISN 0x%lx",
		       epow_irq, after.epow_cfg[0], after.epow_cfg[1], after.epow_cfg[2]);
		report(after.q0_entry == before.q0_entry && after.q0_idx == before.q0_idx,
		       "CPU %u queue: entry 0x%08x still at index 0", cpus[0].server,
		       after.q0_entry);
		if (nr_cpus > 1)
			report(after.pq_ipi1 == 2 && after.q1_entry == before.q1_entry,
			       "CPU %u queue: entry 0x%08x, IPI PQ 10", cpus[1].server,
			       after.q1_entry);
	} else {
		snap_xics(&after);
		report(after.xirr0 == before.xirr0 && after.mfrr0 == XICS_IPI_PRIO,
		       "CPU %u ICP: XIRR 0x%08x, MFRR 0x%02x", cpus[0].server, after.xirr0,
		       after.mfrr0);
		if (nr_cpus > 1)
			report(after.mfrr1 == 6 && after.xirr1 == before.xirr1,
			       "CPU %u ICP: XIRR 0x%08x, MFRR 0x%02x", cpus[1].server,
			       after.xirr1, after.mfrr1);
		report(after.epow_prio == 0xff && after.epow_server == cpus[0].server,
		       "source 0x%x still off, server %u", epow_irq, after.epow_server);
		rtas_call("ibm,int-on", 1, 1, NULL, epow_irq);
		snap_xics(&after);
		report(after.epow_prio == XICS_DEV_PRIO,
		       "ibm,int-on restores the priority saved before migration (%u)",
		       after.epow_prio);
	}
	deliver();
	return report_summary();
}
