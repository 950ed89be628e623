/*
 * Device interrupt storm (issue 9, workload 2): the vty's input interrupt
 * with console input fed at full speed.  The program routes the vty's
 * interrupt to CPU 0, asks for it with H_VIO_SIGNAL, prints
 * `WAIT: stream <n>` (the harness then writes n characters without
 * pause) and takes one H_GET_TERM_CHAR per interrupt in the handler,
 * which the runtime EOIs.  The vty raises its interrupt again whenever input lands in its
 * empty buffer, so each read makes room for the next interrupt.
 *
 * It stops once n characters have been read (default 10000, -append
 * n=100000 for the benchmark run); the cost per interrupt is the time
 * from the first console interrupt to the one that completed the n
 * characters, divided by the interrupts taken in between.  XIVE when
 * offered, XICS otherwise or with -append xics.  If the input stops, it
 * gives up after `timeout=N` seconds (default 30) with a FAIL line.
 */
#include "intc.h"

/* irqs counts the console interrupts from the first one that brought
 * characters (an interrupt latched while stale input was drained reads
 * nothing and is not part of the storm); empty_reads counts those that
 * read nothing, before or during the storm. */
static volatile uint64_t irqs, chars, empty_reads, other_irqs, read_errors;
static volatile uint64_t t_first, t_done, irqs_done, chars_done;
static uint64_t n = 10000;

static void on_irq(uint32_t src)
{
	uint64_t out[4], now = tb_read();
	long rc;

	if (src != console_irq) {
		other_irqs++;
		return;
	}
	/* Done: leave the input in the vty, so that its buffer never looks
	 * empty again and input that never stops raises no more interrupts
	 * (a machine that refills the buffer inside H_GET_TERM_CHAR would
	 * otherwise keep this handler's queue busy for ever). */
	if (irqs_done)
		return;
	rc = hcall_ret(H_GET_TERM_CHAR, out, console_vterm);
	if (rc != H_SUCCESS || out[0] > 16) {
		read_errors++;
		return;
	}
	if (!out[0])
		empty_reads++;
	if (!irqs) {
		if (!out[0])
			return;
		t_first = now;
	}
	irqs++;
	chars += out[0];
	if (!irqs_done && chars >= n) {
		t_done = now;
		chars_done = chars;
		irqs_done = irqs;
	}
}

static bool done(void *arg)
{
	(void)arg;
	return irqs_done != 0;
}

static uint64_t timeout_tb(void)
{
	uint64_t s = 30;

	bootarg_u64("timeout", &s);
	return tb_ms(1000) * s;
}

int main(void)
{
	const char *mode;
	uint64_t ops;
	long rc;

	bootarg_u64("n", &n);
	if (!n)
		n = 1;
	if (!console_irq) {
		report(false, "the vty has no interrupt in the device tree");
		return report_summary();
	}
	if (intc_init(cas_offers_xive() && !bootarg("xics")) == INTC_NONE)
		return report_summary();
	mode = intc_mode == INTC_XIVE ? "xive" : "xics";
	intc_set_callback(on_irq);
	rc = intc_route(console_irq, 0);
	if (rc) {
		report(false, "routing the vty interrupt 0x%x to CPU %u: %ld",
		       console_irq, cpus[0].server, rc);
		return report_summary();
	}
	/* PAPR's switch for VIO interrupts.  QEMU 7.2's vty has no signal
	 * mask (it refuses mode 1 with H_PARAMETER and raises its interrupt
	 * anyway); the answer is shown, not judged. */
	rc = hcall(H_VIO_SIGNAL, console_vterm, 1);
	report_info("H_VIO_SIGNAL(0x%x, enable) returned %s", console_vterm,
		    hcall_rc_name(rc) ? hcall_rc_name(rc) : "?");
	/* Whatever was typed before is not part of the storm.  Bounded: on
	 * a machine that refills the vty inside H_GET_TERM_CHAR, input that
	 * never stops would never let the buffer look empty. */
	for (int i = 0; i < 4096 && console_getc() >= 0; i++)
		;
	report_info("vty interrupt 0x%x routed to CPU %u (%s), reading %lu characters",
		    console_irq, cpus[0].server, intc_name(intc_mode), n);
	intc_cpu_enable();
	/* The harness writes n characters without pause and then keeps the
	 * console open: a finite storm, so that a machine that buffers all
	 * it can read holds no more than n bytes. */
	printf("WAIT: stream %lu (characters to feed without pause)\n", n);
	wait_until(done, NULL, timeout_tb());
	intc_cpu_disable();
	hcall(H_VIO_SIGNAL, console_vterm, 0);

	report(irqs_done != 0, "%lu characters read through the vty interrupt (%s)",
	       n, intc_name(intc_mode));
	report(read_errors == 0, "H_GET_TERM_CHAR succeeded in every handler");
	report(other_irqs == 0, "no interrupt from another source");
	if (!irqs_done) {
		printf("TIME: gave up with %lu characters in %lu interrupts (%lu read nothing)\n",
		       chars, irqs, empty_reads);
		return report_summary();
	}
	ops = irqs_done - 1;
	printf("TIME: console storm: %lu interrupts, %lu characters (%lu.%02lu per interrupt), %lu read nothing\n",
	       irqs_done, chars_done, chars_done / irqs_done,
	       chars_done * 100 / irqs_done % 100, empty_reads);
	if (!ops) {
		report(false, "%lu characters came in a single interrupt: nothing to time", n);
		return report_summary();
	}
	printf("TIME: BENCH console-irq-%s %lu ns/op (%lu ops)\n", mode,
	       (t_done - t_first) * 1000 / (tb_hz / 1000000) / ops, ops);
	return report_summary();
}
