/*
 * IPI ping-pong between two vCPUs (issue 9, workload 1): CPU 0 sends an
 * IPI to CPU 1, whose handler sends one back; n round trips (default
 * 10000, -append n=100000 for the benchmark run).  XIVE when offered,
 * XICS otherwise or with -append xics.  The cost per round trip, from the
 * guest's own timebase, is on the `TIME: BENCH` line.
 */
#include "intc.h"

static volatile uint64_t pongs, pings, stop;

static void on_irq(uint32_t src)
{
	if (src != INTC_SRC_IPI)
		return;
	if (this_cpu()->index == 1) {
		pings++;
		intc_send_ipi(0);
	} else {
		pongs++;
	}
}

static void responder(void *arg)
{
	(void)arg;
	intc_set_callback(on_irq);
	intc_cpu_enable();
	while (!stop) {
		dec_write(0x7fffffff);
		hcall(H_CEDE);	/* woken by each IPI; handled on the way out */
		irq_disable();
	}
	intc_cpu_disable();
}

static bool pong_reached(void *arg)
{
	return pongs >= (uint64_t)arg;
}

int main(void)
{
	uint64_t n = 10000, i, t0, t1;

	bootarg_u64("n", &n);
	if (nr_cpus < 2) {
		report_skip("needs 2 vCPUs");
		return report_summary();
	}
	if (intc_init(cas_offers_xive() && !bootarg("xics")) == INTC_NONE)
		return report_summary();
	intc_set_callback(on_irq);
	intc_cpu_enable();
	if (smp_start(1, responder, NULL)) {
		report(false, "start-cpu of CPU %u", cpus[1].server);
		return report_summary();
	}
	delay_tb(tb_ms(20));
	t0 = tb_read();
	for (i = 1; i <= n; i++) {
		intc_send_ipi(1);
		if (!wait_until(pong_reached, (void *)i, tb_ms(5000)))
			break;
	}
	t1 = tb_read();
	report(pongs == n && pings == n, "%lu IPI round trips (%s)", n, intc_name(intc_mode));
	printf("TIME: BENCH ipi-roundtrip-%s %lu ns/op (%lu ops)\n",
	       intc_mode == INTC_XIVE ? "xive" : "xics",
	       (t1 - t0) * 1000 / (tb_hz / 1000000) / (n ? n : 1), n);
	stop = 1;
	intc_send_ipi(1);
	smp_wait_stopped(1, tb_ms(5000));
	return report_summary();
}
