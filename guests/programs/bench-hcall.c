/*
 * Hypercall round trip (issue 9, workload 3): H_CPPR(0xff) n times
 * (default 100000, -append n=...).  CAS picks XICS so that H_CPPR is a
 * real XICS call; on a XIVE-only platform the loop measures the
 * H_FUNCTION refusal instead and says so.
 */
#include "intc.h"

int main(void)
{
	uint64_t n = 100000, i, t0, t1, bad = 0;
	long want = H_SUCCESS;

	bootarg_u64("n", &n);
	if (cas_offers_xics()) {
		if (intc_init(false) != INTC_XICS)
			return report_summary();
	} else {
		report_info("the platform offers no XICS: measuring a refused H_CPPR");
		want = H_FUNCTION;
		if (intc_init(true) == INTC_NONE)
			return report_summary();
	}
	t0 = tb_read();
	for (i = 0; i < n; i++)
		bad += hcall(H_CPPR, 0xff) != want;
	t1 = tb_read();
	report(bad == 0, "%lu H_CPPR calls returned %s", n, hcall_rc_name(want));
	printf("TIME: BENCH hcall-h_cppr %lu ns/op (%lu ops)\n",
	       (t1 - t0) * 1000 / (tb_hz / 1000000) / (n ? n : 1), n);
	return report_summary();
}
