/*
 * One interface over XICS and XIVE for programs that want IPIs and device
 * interrupts without caring which controller CAS chose.
 *
 * XIVE: every CPU gets a queue and an IPI source (the LISN at
 * ipi_base + CPU index) whose EISN is INTC_SRC_IPI | index; device
 * sources use their LISN as EISN.  XICS: IPIs are MFRR writes at
 * priority 4, devices are routed at priority 5 with ibm,set-xive.
 */
#include "intc.h"

enum intc_mode intc_mode;

#define MAX_SOURCES 16
static struct xive_source sources[MAX_SOURCES];
static int nr_sources;

const char *intc_name(enum intc_mode m)
{
	return m == INTC_XIVE ? "XIVE" : m == INTC_XICS ? "XICS" : "none";
}

static struct xive_source *source(uint32_t lisn)
{
	int i;

	for (i = 0; i < nr_sources; i++)
		if (sources[i].lisn == lisn)
			return &sources[i];
	if (nr_sources == MAX_SOURCES)
		abort_msg("too many XIVE sources");
	if (xive_source_info(lisn, &sources[nr_sources]) != H_SUCCESS)
		return NULL;
	return &sources[nr_sources++];
}

static void ext_handler(struct frame *f)
{
	void (*cb)(uint32_t) = this_cpu()->intc_cb;
	uint32_t src;

	(void)f;
	while ((src = intc_next())) {
		if (cb)
			cb(src);
		intc_eoi(src);
	}
}

void intc_set_callback(intc_cb_t cb)
{
	this_cpu()->intc_cb = cb;
	set_ext_handler(ext_handler);
}

static long xive_setup(void)
{
	long rc;
	int i;

	if (!xive_probe()) {
		report(false, "XIVE negotiated but the device tree has no usable ibm,power-ivpe node");
		return H_HARDWARE;
	}
	for (i = 0; i < nr_cpus; i++) {
		struct xive_source *ipi;

		rc = xive_queue_setup(i);
		if (rc != H_SUCCESS) {
			report(false, "XIVE queue for CPU %u: %ld", cpus[i].server, rc);
			return rc;
		}
		ipi = source(xive.ipi_base + i);
		if (!ipi || ipi->flags & XIVE_SRC_H_INT_ESB) {
			report(false, "XIVE IPI source %u unusable", xive.ipi_base + i);
			return H_HARDWARE;
		}
		rc = xive_route(ipi->lisn, i, INTC_SRC_IPI | i);
		if (rc != H_SUCCESS) {
			report(false, "XIVE route of IPI %u: %ld", ipi->lisn, rc);
			return rc;
		}
		xive_esb_load(ipi, XIVE_ESB_SET_PQ_00);
	}
	return H_SUCCESS;
}

enum intc_mode intc_init(bool prefer_xive)
{
	bool xive_wanted = prefer_xive ? cas_offers_xive() : !cas_offers_xics();
	long rc = cas_request(xive_wanted);

	intc_mode = INTC_NONE;
	if (rc != H_SUCCESS) {
		report(false, "CAS asking for %s returned %ld", xive_wanted ? "XIVE" : "XICS", rc);
		return INTC_NONE;
	}
	if (xive_wanted) {
		if (xive_setup() != H_SUCCESS)
			return INTC_NONE;
		intc_mode = INTC_XIVE;
	} else {
		intc_mode = INTC_XICS;
	}
	return intc_mode;
}

void intc_cpu_enable(void)
{
	if (intc_mode == INTC_XIVE)
		xive_set_cppr(0xff);
	else
		hcall(H_CPPR, 0xff);
}

void intc_cpu_disable(void)
{
	if (intc_mode == INTC_XIVE)
		xive_set_cppr(0);
	else
		hcall(H_CPPR, 0);
}

void intc_send_ipi(int cpu_idx)
{
	if (intc_mode == INTC_XIVE)
		xive_esb_trigger(source(xive.ipi_base + cpu_idx));
	else
		hcall(H_IPI, cpus[cpu_idx].server, XICS_IPI_PRIO);
}

long intc_route(uint32_t irq, int cpu_idx)
{
	if (intc_mode == INTC_XIVE) {
		struct xive_source *src = source(irq);
		long rc;

		if (!src)
			return H_P2;
		rc = xive_route(irq, cpu_idx, irq);
		if (rc == H_SUCCESS)
			xive_esb_load(src, XIVE_ESB_SET_PQ_00);
		return rc;
	}
	if (rtas_call("ibm,set-xive", 3, 1, NULL, irq, cpus[cpu_idx].server,
		      XICS_DEV_PRIO))
		return -1;
	return rtas_call("ibm,int-on", 1, 1, NULL, irq);
}

uint32_t intc_next(void)
{
	struct cpu *c = this_cpu();

	if (intc_mode == INTC_XIVE) {
		uint32_t eisn;

		xive_ack();
		eisn = xive_queue_pop(c->index);
		if (!eisn) {
			/* Nothing left: accept our priority again; anything
			 * that arrived meanwhile is presented at once. */
			xive_set_cppr(0xff);
			return 0;
		}
		return (eisn & INTC_SRC_IPI) ? INTC_SRC_IPI : eisn;
	}
	if (intc_mode == INTC_XICS) {
		uint64_t out[4];
		uint32_t xisr;

		if (hcall_ret(H_XIRR, out) != H_SUCCESS)
			return 0;
		c->xirr = (uint32_t)out[0];
		xisr = c->xirr & 0xffffff;
		if (xisr == XICS_IPI) {
			hcall(H_IPI, c->server, 0xff);	/* consume it */
			return INTC_SRC_IPI;
		}
		return xisr;
	}
	return 0;
}

void intc_eoi(uint32_t src)
{
	struct cpu *c = this_cpu();

	if (intc_mode == INTC_XIVE) {
		struct xive_source *s =
			source(src == INTC_SRC_IPI ? xive.ipi_base + c->index : src);

		if (s)
			xive_source_eoi(s);
	} else if (intc_mode == INTC_XICS) {
		hcall(H_EOI, c->xirr);
	}
}
