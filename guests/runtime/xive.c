/*
 * XIVE exploitation mode from the guest side, following what Linux's
 * sysdev/xive/spapr.c does: one event queue per CPU at the highest
 * priority the hypervisor does not reserve, sources configured with
 * H_INT_SET_SOURCE_CONFIG and driven through their ESB pages, interrupts
 * acknowledged through the OS ring of the TIMA.
 */
#include "intc.h"

struct xive_info xive;

bool xive_probe(void)
{
	int node = fdt_find_compatible(0, "ibm,power-ivpe"), len, i;
	const char *reg = fdt_prop(node, "reg", &len);
	const char *res;
	uint32_t v;
	bool reserved[8] = { false };

	if (node < 0 || !reg || len < 32)
		return false;
	/* Two (address, size) pairs of 2+2 cells: USER page, then OS page. */
	xive.tima_os = be64(reg + 16);
	if (!fdt_prop_u32(node, "ibm,xive-lisn-ranges", 0, &xive.ipi_base) ||
	    !fdt_prop_u32(node, "ibm,xive-lisn-ranges", 1, &xive.ipi_count))
		return false;

	/* Queue size: 64K if offered (what Linux picks with 64K pages),
	 * otherwise the last size listed. */
	res = fdt_prop(node, "ibm,xive-eq-sizes", &len);
	xive.eq_shift = 0;
	for (i = 0; res && i < len / 4; i++) {
		v = be32(res + 4 * i);
		if (xive.eq_shift != 16)
			xive.eq_shift = v;
	}
	if (!xive.eq_shift)
		return false;

	/* The root lists (base, count) ranges of priorities it keeps. */
	res = fdt_prop(0, "ibm,plat-res-int-priorities", &len);
	for (i = 0; res && i + 1 < len / 4; i += 2) {
		uint32_t base = be32(res + 4 * i), count = be32(res + 4 * i + 4), p;

		for (p = base; p < 8 && p < base + count; p++)
			reserved[p] = true;
	}
	for (i = 7; i >= 0 && reserved[i]; i--)
		;
	if (i < 0)
		return false;
	xive.prio = i;
	return true;
}

long xive_source_info(uint32_t lisn, struct xive_source *src)
{
	uint64_t out[4];
	long rc = hcall_ret(H_INT_GET_SOURCE_INFO, out, 0, lisn);

	src->lisn = lisn;
	if (rc == H_SUCCESS) {
		src->flags = out[0];
		src->eoi_page = out[1];
		src->trig_page = out[2];
		src->shift = out[3];
		/* A source whose management page also triggers has no
		 * separate trigger page. */
		if (src->flags & XIVE_SRC_TRIGGER)
			src->trig_page = src->eoi_page;
	}
	return rc;
}

long xive_queue_setup(int idx)
{
	struct xive_queue *q = &xive.queues[idx];
	uint32_t size = 1u << xive.eq_shift;
	uint64_t out[4];
	long rc;

	if (!q->qpage)
		q->qpage = alloc(size, size);	/* naturally aligned */
	memset(q->qpage, 0, size);
	q->entries = size / 4;
	q->idx = 0;
	q->toggle = 0;
	sync();
	rc = hcall_ret(H_INT_GET_QUEUE_INFO, out, 0, cpus[idx].server, xive.prio);
	if (rc != H_SUCCESS)
		return rc;
	return hcall(H_INT_SET_QUEUE_CONFIG, 1 /* always notify */,
		     cpus[idx].server, xive.prio, (uint64_t)q->qpage, xive.eq_shift);
}

long xive_route(uint32_t lisn, int cpu_idx, uint32_t eisn)
{
	return hcall(H_INT_SET_SOURCE_CONFIG, 0x2 /* set EISN */, lisn,
		     cpus[cpu_idx].server, xive.prio, eisn);
}

uint64_t xive_esb_load(const struct xive_source *src, uint32_t offset)
{
	uint64_t out[4];

	if (src->flags & XIVE_SRC_H_INT_ESB) {
		if (hcall_ret(H_INT_ESB, out, 0, src->lisn, offset, 0) != H_SUCCESS)
			return ~0ull;
		return out[0];
	}
	return mmio_ld64(src->eoi_page + offset);
}

void xive_esb_trigger(const struct xive_source *src)
{
	if (src->flags & XIVE_SRC_H_INT_ESB)
		hcall(H_INT_ESB, 1 /* store */, src->lisn, 0, 0);
	else
		mmio_st64(src->trig_page, 0);
}

void xive_source_eoi(const struct xive_source *src)
{
	if (src->flags & XIVE_SRC_LSI) {
		xive_esb_load(src, XIVE_ESB_LOAD_EOI);
		return;
	}
	/* PQ=00; a trigger that came in meanwhile left Q set: replay it. */
	if (xive_esb_load(src, XIVE_ESB_SET_PQ_00) & 1)
		xive_esb_trigger(src);
}

uint16_t xive_ack(void)
{
	return mmio_ld16(xive.tima_os + TM_SPC_ACK_OS_REG);
}

void xive_set_cppr(uint8_t cppr)
{
	mmio_st8(xive.tima_os + TM_QW1_OS + TM_CPPR, cppr);
}

uint32_t xive_tima_word0(void)
{
	return mmio_ld32(xive.tima_os + TM_QW1_OS);
}

uint32_t xive_queue_pop(int idx)
{
	struct xive_queue *q = &xive.queues[idx];
	uint32_t e;

	if (!q->qpage)
		return 0;
	e = __builtin_bswap32(((volatile uint32_t *)q->qpage)[q->idx]);
	if ((e >> 31) == q->toggle)
		return 0;
	if (++q->idx == q->entries) {
		q->idx = 0;
		q->toggle ^= 1;
	}
	return e & 0x7fffffff;
}
