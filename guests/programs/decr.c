/*
 * The decrementer: interrupts at 0x900 after the programmed time, level
 * behaviour while DEC is negative, masking by MSR[EE], waking H_CEDE,
 * agreement with the timebase, and the width the device tree announces
 * (`ibm,dec-bits`: 32, or 56 with the large decrementer, cap-large-decr).
 *
 * No timing numbers appear in PASS/FAIL lines; TIME: lines carry them.
 */
#include "guest.h"

static volatile uint64_t fired, fired_tb, refire_budget;

/* Counts; re-arms far away unless asked to leave DEC negative a few times
 * (to observe that the interrupt is level-triggered). */
static void dec_handler(struct frame *f)
{
	(void)f;
	fired++;
	fired_tb = tb_read();
	if (refire_budget) {
		refire_budget--;
		return;
	}
	dec_write(0x7fffffff);
}

/* Busy-wait with EE=1 (no cede: a broken DEC must not hang us). */
static bool spin_until_fired(uint64_t n, uint64_t timeout)
{
	uint64_t start = tb_read();

	irq_enable();
	while (fired < n && tb_read() - start < timeout)
		cpu_relax();
	irq_disable();
	return fired >= n;
}

static uint32_t bits;

/* mfspr DEC gives the value sign-extended from the large decrementer's
 * width, but a 32-bit DEC reads zero-extended: look at the top bit of the
 * declared width either way. */
static bool dec_negative(void)
{
	return ((uint64_t)dec_read() >> (bits - 1)) & 1;
}

static uint32_t dec_bits(void)
{
	int node = fdt_find_device_type(0, "cpu");
	uint32_t bits;

	if (!fdt_prop_u32(node, "ibm,dec-bits", 0, &bits))
		return 32;
	return bits;
}

static void basic(void)
{
	uint64_t t0, want = tb_ms(10);

	fired = 0;
	t0 = tb_read();
	dec_write(want);
	report(spin_until_fired(1, tb_ms(2000)), "DEC interrupt after 10 ms");
	report(fired_tb - t0 >= want, "not before the programmed time");
	printf("TIME: DEC fired after %lu us (programmed 10000)\n",
	       (fired_tb - t0) / tb_us(1));
	report(fired == 1, "exactly one interrupt when the handler re-arms (%lu)",
	       (uint64_t)fired);
}

static void level(void)
{
	fired = 0;
	refire_budget = 2;
	dec_write(tb_us(100));
	report(spin_until_fired(3, tb_ms(2000)),
	       "DEC interrupt taken again while DEC stays negative (level): %lu times",
	       (uint64_t)(fired >= 3 ? 3 : fired));
	refire_budget = 0;
	dec_write(0x7fffffff);
}

static void masked(void)
{
	uint64_t i;

	fired = 0;
	dec_write(tb_us(10));
	for (i = tb_read(); tb_read() - i < tb_ms(5);)
		cpu_relax();
	report(fired == 0 && dec_negative(), "EE=0: DEC negative, no interrupt taken");
	irq_enable();
	/* Pending interrupts are taken right after mtmsrd. */
	asm volatile("nop; nop; nop; nop" ::: "memory");
	irq_disable();
	report(fired == 1, "taken as soon as EE is set (%lu)", (uint64_t)fired);
}

static void cede(void)
{
	uint64_t t0;

	fired = 0;
	t0 = tb_read();
	dec_write(tb_ms(5));
	hcall(H_CEDE);	/* sets EE; returns with the interrupt pending */
	irq_disable();
	report(fired == 1 && tb_read() - t0 >= tb_ms(5), "H_CEDE woken by the DEC interrupt");
	printf("TIME: H_CEDE slept %lu us (DEC 5000)\n", (tb_read() - t0) / tb_us(1));
}

static void consistent_with_tb(void)
{
	int64_t d1, d2;
	uint64_t t1, t2;

	dec_write(0x7fffffff);
	t1 = tb_read();
	d1 = dec_read();
	delay_tb(tb_ms(3));
	dec_write(0x7fffffff);	/* delay_tb uses the DEC: start over */
	t1 = tb_read();
	d1 = dec_read();
	for (t2 = tb_read(); t2 - t1 < tb_ms(3); t2 = tb_read())
		cpu_relax();
	d2 = dec_read();
	t2 = tb_read();
	report(d1 > d2 && (uint64_t)(d1 - d2) <= t2 - t1 + tb_us(10),
	       "DEC counts down with the timebase");
}

static void width(void)
{
	int64_t v;

	report_info("ibm,dec-bits: %u", bits);
	fired = 0;
	if (bits > 32) {
		/* A value above 32 bits is kept and is positive. */
		dec_write(1ll << 33);
		v = dec_read();
		report(v > (1ll << 32) && v <= (1ll << 33),
		       "large decrementer keeps a 34-bit value");
		/* Negative in the declared width: reads back sign-extended. */
		dec_write(-(1ll << 40));
		v = dec_read();
		/* ... and keeps counting down from there. */
		report(v < 0 && v > -(1ll << 41), "a negative value reads back sign-extended");
	} else {
		dec_write(1ll << 33);	/* only the low 32 bits exist: 0 */
		report(dec_read() <= 0 || dec_negative(), "bits above 31 are dropped");
		dec_write(0x7fffffff);
		report(!dec_negative(), "0x7fffffff is positive in a 32-bit DEC");
		dec_write(0x81000000ll);
		v = dec_read();
		report(v > 0 && dec_negative(), "0x81000000 reads back zero-extended with bit 31 set");
	}
	report(spin_until_fired(1, tb_ms(100)), "a negative DEC raises the interrupt");
	dec_write(0x7fffffff);
}

int main(void)
{
	set_dec_handler(dec_handler);
	bits = dec_bits();
	width();
	basic();
	level();
	masked();
	cede();
	consistent_with_tb();
	return report_summary();
}
