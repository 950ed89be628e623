/*
 * XICS (legacy) mode: the ICP hypercalls on one CPU with interrupts off
 * (XIRR, CPPR, MFRR, EOI, IPOLL, XIRR_X), IPIs taken as interrupts between
 * two vCPUs, IPIs held back by CPPR, and the vty's interrupt through the
 * ICS: routing with ibm,set-xive, masking with ibm,int-off/int-on, CPPR
 * masking and its replay, and delivery to another CPU.
 *
 * The vty checks need console input: each announces `WAIT: key`.
 */
#include "intc.h"

#define NONE	0xffffffffu

static volatile uint64_t count[MAX_CPUS], pings, pongs, ping_pong;
static volatile uint32_t last_src[MAX_CPUS];
static volatile uint64_t cmd, cmd_done;	/* CPU 1's little command loop */

static const char *rc_name(long rc)
{
	static char buf[24];

	if (hcall_rc_name(rc))
		return hcall_rc_name(rc);
	snprintf(buf, sizeof(buf), "%ld", rc);
	return buf;
}

static uint32_t ipoll(uint32_t server, uint32_t *mfrr)
{
	uint64_t out[4];

	if (hcall_ret(H_IPOLL, out, server) != H_SUCCESS)
		return NONE;
	if (mfrr)
		*mfrr = (uint32_t)out[1];
	return (uint32_t)out[0];
}

static uint32_t xirr(void)
{
	uint64_t out[4];

	if (hcall_ret(H_XIRR, out) != H_SUCCESS)
		return NONE;
	return (uint32_t)out[0];
}

static void icp_hcalls(void)
{
	uint32_t self = cpus[0].server, mfrr = 0, x;
	uint64_t out[4], t0, t1;

	hcall(H_CPPR, 0xff);
	x = xirr();
	report(x == 0xff000000, "H_XIRR with nothing pending: 0x%08x", x);

	hcall(H_IPI, self, XICS_IPI_PRIO);
	x = ipoll(self, &mfrr);
	report(x == 0xff000002 && mfrr == XICS_IPI_PRIO,
	       "H_IPI to self: H_IPOLL shows XIRR 0x%08x, MFRR 0x%02x", x, mfrr);
	x = xirr();
	report(x == 0xff000002, "H_XIRR accepts the IPI: 0x%08x", x);
	x = ipoll(self, NULL);
	report(x == 0x04000000, "CPPR is now the IPI's priority: XIRR 0x%08x", x);
	hcall(H_IPI, self, 0xff);
	report(hcall(H_EOI, 0xff000002) == H_SUCCESS, "H_EOI(0xff000002)");
	x = ipoll(self, &mfrr);
	report(x == 0xff000000 && mfrr == 0xff, "after EOI: XIRR 0x%08x, MFRR 0x%02x", x, mfrr);

	/* Priority 4 is not more favoured than CPPR 4: held back. */
	hcall(H_CPPR, 4);
	hcall(H_IPI, self, 4);
	x = ipoll(self, NULL);
	report((x & 0xffffff) == 0, "CPPR 4 holds back a priority-4 IPI: XIRR 0x%08x", x);
	hcall(H_CPPR, 5);
	x = ipoll(self, NULL);
	report(x == 0x05000002, "CPPR 5 lets it through: XIRR 0x%08x", x);
	x = xirr();
	hcall(H_IPI, self, 0xff);
	hcall(H_EOI, x);
	hcall(H_CPPR, 0xff);

	/* Raising the priority takes back a presented IPI; lowering it
	 * presents it again (the IPI lives on in MFRR). */
	hcall(H_IPI, self, 4);
	hcall(H_CPPR, 4);
	x = ipoll(self, NULL);
	report((x & 0xffffff) == 0, "CPPR raised to 4 withdraws the pending IPI: 0x%08x", x);
	hcall(H_CPPR, 0xff);
	x = ipoll(self, NULL);
	report(x == 0xff000002, "CPPR back to 0xff presents it again: 0x%08x", x);

	t0 = tb_read();
	hcall_ret(H_XIRR_X, out);
	t1 = tb_read();
	report((uint32_t)out[0] == 0xff000002, "H_XIRR_X accepts like H_XIRR: 0x%08x",
	       (uint32_t)out[0]);
	report(out[1] >= t0 && out[1] <= t1, "H_XIRR_X's second value is the timebase");
	printf("TIME: H_XIRR_X r5 0x%lx, timebase 0x%lx..0x%lx\n", out[1], t0, t1);
	hcall(H_IPI, self, 0xff);
	hcall(H_EOI, (uint32_t)out[0]);

	report(hcall(H_IPI, 0xfffff, 4) == H_PARAMETER, "H_IPI to server 0xfffff: H_PARAMETER");
	report(hcall(H_IPOLL, 0xfffff) == H_PARAMETER, "H_IPOLL of server 0xfffff: H_PARAMETER");
	report(hcall(H_INT_GET_SOURCE_INFO, 0, 0) == H_FUNCTION,
	       "XIVE hcalls refused in XICS mode");
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

/* CPU 1: take interrupts; run H_CPPR commands from CPU 0 until told to
 * stop (cmd 0x100). */
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
			hcall(H_CPPR, c & 0xff);
			cmd_done = c;
		}
		dec_write(tb_ms(1));
		hcall(H_CEDE);	/* EE on: interrupts are taken here */
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
	cmd = cppr | 0x200 | ((cmd + 0x1000) & ~0xfffull);	/* unique value */
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
	uint64_t i, before;
	uint32_t x, mfrr;

	ping_pong = 1;
	for (i = 1; i <= 20; i++) {
		intc_send_ipi(1);
		if (!wait_count(&pongs, i, tb_ms(5000)))
			break;
	}
	ping_pong = 0;
	report(pings == 20 && pongs == 20, "20 IPI round trips CPU %u <-> CPU %u",
	       cpus[0].server, cpus[1].server);

	cpu1_cppr(0);
	before = count[1];
	hcall(H_IPI, cpus[1].server, XICS_IPI_PRIO);
	delay_tb(tb_ms(20));
	x = ipoll(cpus[1].server, &mfrr);
	report(count[1] == before && (x & 0xffffff) == 0 && mfrr == XICS_IPI_PRIO,
	       "IPI to CPU %u at CPPR 0 waits (XIRR 0x%08x, MFRR 0x%02x)", cpus[1].server, x, mfrr);
	cpu1_cppr(0xff);
	report(wait_count(&count[1], before + 1, tb_ms(5000)) && last_src[1] == INTC_SRC_IPI,
	       "taken once CPU %u sets CPPR 0xff", cpus[1].server);
}

/* --- the vty through the ICS --- */

static int got_char;

static bool char_arrived(void *arg)
{
	(void)arg;
	if (got_char < 0)
		got_char = console_getc();
	return got_char >= 0;
}

static uint64_t timeout(void)
{
	uint64_t s = 30;

	bootarg_u64("timeout", &s);
	return s * tb_hz;
}

/* Ask for a key; wait for the interrupt on cpus[idx] (or, when `expect`
 * is false, for the character alone).  Returns whether an interrupt from
 * the vty came. */
static bool key(int idx, bool expect)
{
	uint64_t before = count[idx];

	got_char = -1;
	printf("WAIT: key\n");
	if (expect) {
		if (!wait_count(&count[idx], before + 1, timeout()))
			return false;
		wait_until(char_arrived, NULL, tb_ms(1000));
		return last_src[idx] == console_irq;
	}
	if (!wait_until(char_arrived, NULL, timeout()))
		report_info("no key arrived");
	delay_tb(tb_ms(20));
	return count[idx] != before;
}

static void get_xive(uint32_t irq, uint32_t *server, uint32_t *prio, int *status)
{
	uint32_t r[2] = { NONE, NONE };

	*status = rtas_call("ibm,get-xive", 1, 3, r, irq);
	*server = r[0];
	*prio = r[1];
}

static void vty(void)
{
	uint32_t irq = console_irq, s0 = cpus[0].server, server, prio;
	uint64_t before;
	int st;

	if (!irq) {
		report_skip("no vty interrupt in the device tree");
		return;
	}
	get_xive(irq, &server, &prio, &st);
	report(st == 0 && prio == 0xff, "vty interrupt 0x%x masked after reset (get-xive: %d, prio 0x%x)",
	       irq, st, prio);
	report_info("H_VIO_SIGNAL(vty, enable) returned %s",
		    rc_name(hcall(H_VIO_SIGNAL, console_vterm, 1)));
	while (console_getc() >= 0)
		;

	st = rtas_call("ibm,set-xive", 3, 1, NULL, irq, s0, XICS_DEV_PRIO);
	report(st == 0, "ibm,set-xive(0x%x, %u, %d): %d", irq, s0, XICS_DEV_PRIO, st);
	st = rtas_call("ibm,int-on", 1, 1, NULL, irq);
	get_xive(irq, &server, &prio, &st);
	report(st == 0 && server == s0 && prio == XICS_DEV_PRIO,
	       "ibm,get-xive: server %u, priority %u", server, prio);
	report(key(0, true), "vty interrupt delivered to CPU %u, read '%c'", s0,
	       got_char >= 32 && got_char < 127 ? got_char : '?');

	st = rtas_call("ibm,int-off", 1, 1, NULL, irq);
	get_xive(irq, &server, &prio, &st);
	report(st == 0 && prio == 0xff, "ibm,int-off: get-xive priority 0x%x", prio);
	before = count[0];
	report(!key(0, false), "no interrupt while off");
	rtas_call("ibm,int-on", 1, 1, NULL, irq);
	report(wait_count(&count[0], before + 1, tb_ms(1000)) && last_src[0] == irq,
	       "ibm,int-on delivers the interrupt that came while off");
	get_xive(irq, &server, &prio, &st);
	report(prio == XICS_DEV_PRIO, "ibm,int-on restored priority %u", prio);

	hcall(H_CPPR, 0);
	before = count[0];
	report(!key(0, false), "CPPR 0: no interrupt");
	hcall(H_CPPR, 0xff);
	report(wait_count(&count[0], before + 1, tb_ms(1000)) && last_src[0] == irq,
	       "CPPR 0xff: the held interrupt is delivered");

	st = rtas_call("ibm,set-xive", 3, 1, NULL, irq, cpus[1].server, XICS_DEV_PRIO);
	report(st == 0 && key(1, true), "routed to CPU %u and delivered there", cpus[1].server);

	st = rtas_call("ibm,get-xive", 1, 3, NULL, 0x7fffffff);
	report(st == -3, "ibm,get-xive of source 0x7fffffff: %d", st);
	st = rtas_call("ibm,set-xive", 3, 1, NULL, irq, 0xfffff, XICS_DEV_PRIO);
	report(st == -3, "ibm,set-xive to server 0xfffff: %d", st);
	st = rtas_call("ibm,set-xive", 2, 1, NULL, irq, s0);
	report(st == -3, "ibm,set-xive with 2 arguments: %d", st);
	rtas_call("ibm,int-off", 1, 1, NULL, irq);
}

int main(void)
{
	if (!cas_offers_xics()) {
		report_skip("the platform does not offer XICS");
		return report_summary();
	}
	if (intc_init(false) != INTC_XICS)
		return report_summary();
	report(true, "CAS negotiated XICS");
	icp_hcalls();
	if (nr_cpus < 2) {
		report_skip("IPI and routing checks need 2 vCPUs");
		return report_summary();
	}
	intc_set_callback(on_irq);
	intc_cpu_enable();
	irq_enable();
	if (smp_start(1, worker, NULL)) {
		report(false, "start-cpu of CPU %u", cpus[1].server);
		return report_summary();
	}
	delay_tb(tb_ms(20));
	ipis();
	vty();
	cmd = 0x100;
	smp_wait_stopped(1, tb_ms(5000));
	return report_summary();
}
