/*
 * The demo guest booted by `cargo xtask run`: negotiates the interrupt
 * controller at CAS (XIVE when the platform offers it, XICS otherwise),
 * exchanges IPIs between two vCPUs, takes a console-input interrupt and an
 * EPOW (power-button) event, prints what it saw and powers off.
 *
 * Two steps need the outside world; each announces itself with a `WAIT:`
 * line that a harness can act on, and gives up after a timeout (default
 * 30 s, `-append timeout=N` to change) with a SKIP line:
 *   WAIT: key        -> type one character on the console
 *   WAIT: powerdown  -> QMP/HMP system_powerdown
 */
#include "intc.h"

#define ROUND_TRIPS 10

static volatile uint64_t pings, pongs, stop_pong;
static volatile uint64_t console_irqs, epow_irqs, other_irqs[MAX_CPUS];
static volatile uint64_t taken[MAX_CPUS];
static uint32_t epow_irq;	/* 0 until the EPOW step routes it */

static void on_irq(uint32_t src)
{
	struct cpu *c = this_cpu();

	taken[c->index]++;
	if (src == INTC_SRC_IPI) {
		if (c->index == 0) {
			pongs++;
		} else {
			pings++;
			intc_send_ipi(0);
		}
	} else if (src == console_irq) {
		console_irqs++;
	} else if (epow_irq && src == epow_irq) {
		epow_irqs++;
	} else {
		other_irqs[c->index] = src;
	}
}

static void pong_cpu(void *arg)
{
	(void)arg;
	intc_set_callback(on_irq);
	intc_cpu_enable();
	irq_enable();
	while (!stop_pong)
		hcall(H_CEDE);
	irq_disable();
	intc_cpu_disable();
}

static bool counter_reached(void *arg)
{
	return pongs >= (uint64_t)arg;
}

static void ipi_ping_pong(void)
{
	uint64_t i, t0, t1;
	int rc;

	if (nr_cpus < 2) {
		report_skip("IPIs need 2 vCPUs (-smp 2)");
		return;
	}
	rc = smp_start(1, pong_cpu, NULL);
	if (rc) {
		report(false, "RTAS start-cpu of CPU %u returned %d", cpus[1].server, rc);
		return;
	}
	/* Let CPU 1 reach its idle loop before the first IPI. */
	delay_tb(tb_ms(20));
	t0 = tb_read();
	for (i = 1; i <= ROUND_TRIPS; i++) {
		intc_send_ipi(1);
		if (!wait_until(counter_reached, (void *)i, tb_ms(5000)))
			break;
	}
	t1 = tb_read();
	report(pongs == ROUND_TRIPS && pings == ROUND_TRIPS,
	       "%d IPI round trips between CPU %u and CPU %u (%s): %lu pings, %lu pongs",
	       ROUND_TRIPS, cpus[0].server, cpus[1].server, intc_name(intc_mode),
	       (uint64_t)pings, (uint64_t)pongs);
	printf("TIME: IPI round trip %lu ns\n",
	       (t1 - t0) * 1000 / ROUND_TRIPS / (tb_hz / 1000000));
	stop_pong = 1;
	intc_send_ipi(1);	/* wake it to see the flag */
	report(smp_wait_stopped(1, tb_ms(5000)), "CPU %u stopped itself", cpus[1].server);
}

static uint64_t timeout_tb(void)
{
	uint64_t s = 30;

	bootarg_u64("timeout", &s);
	return s * tb_hz;
}

static bool nonzero(void *p)
{
	return *(volatile uint64_t *)p != 0;
}

static void console_interrupt(void)
{
	long rc;
	int c;

	if (!console_irq) {
		report_skip("no vty interrupt in the device tree");
		return;
	}
	rc = intc_route(console_irq, 0);
	if (rc) {
		report(false, "routing console interrupt 0x%x to CPU %u: %ld",
		       console_irq, cpus[0].server, rc);
		return;
	}
	/* PAPR's switch for VIO interrupts.  QEMU 7.2's vty has none (it
	 * answers H_PARAMETER and always raises its interrupt), so either
	 * answer is fine here; the line shows which one the machine gave. */
	rc = hcall(H_VIO_SIGNAL, console_vterm, 1);
	report_info("H_VIO_SIGNAL(0x%x, enable) returned %s", console_vterm,
		    hcall_rc_name(rc) ? hcall_rc_name(rc) : "?");
	/* Input typed before now is not what we wait for. */
	while (console_getc() >= 0)
		;
	report_info("console interrupt 0x%x routed to CPU %u", console_irq, cpus[0].server);
	printf("WAIT: key (type any key on the console)\n");
	if (!wait_until(nonzero, (void *)&console_irqs, timeout_tb())) {
		report_skip("no console input within the timeout");
		return;
	}
	c = console_getc();
	report(c >= 0, "console interrupt delivered (%s), read '%c'",
	       intc_name(intc_mode), c >= 32 && c < 127 ? c : '?');
	hcall(H_VIO_SIGNAL, console_vterm, 0);
}

/* The EPOW section of a v6 event log: sensor value (the action asked of
 * the OS) and modifier. */
static bool parse_epow(const uint8_t *log, uint32_t *action, uint32_t *modifier)
{
	uint32_t summary = be32(log), len = be32(log + 4), off;

	if ((summary & 0xff) != 0x40 || (summary >> 24) != 6)
		return false;
	/* Sections start after the 8-byte header and the 16-byte v6 header. */
	for (off = 8 + 16; off + 10 <= 8 + len;) {
		uint16_t id = (log[off] << 8) | log[off + 1];
		uint16_t slen = (log[off + 2] << 8) | log[off + 3];

		if (id == 0x4550) {	/* "EP" */
			*action = log[off + 8] & 0xf;
			*modifier = log[off + 9];
			return true;
		}
		if (slen < 8)
			break;
		off += slen;
	}
	return false;
}

static void epow_event(void)
{
	int node = fdt_path("/event-sources/epow-events");
	static uint8_t log[2048] __attribute__((aligned(8)));
	uint32_t irq, action = 0, modifier = 0;
	long rc;
	int status;

	if (!fdt_prop_u32(node, "interrupts", 0, &irq)) {
		report_skip("no /event-sources/epow-events interrupt");
		return;
	}
	epow_irq = irq;
	rc = intc_route(irq, 0);
	if (rc) {
		report(false, "routing EPOW interrupt 0x%x: %ld", irq, rc);
		return;
	}
	report_info("EPOW interrupt 0x%x routed to CPU %u", irq, cpus[0].server);
	printf("WAIT: powerdown (send system_powerdown to the monitor)\n");
	if (!wait_until(nonzero, (void *)&epow_irqs, timeout_tb())) {
		report_skip("no EPOW event within the timeout");
		return;
	}
	status = rtas_call("check-exception", 6, 1, NULL, 0x500, irq,
			   0x40000000 /* EPOW class */, 1, (uint32_t)(uint64_t)log,
			   (uint32_t)sizeof(log));
	report(status == 0 && parse_epow(log, &action, &modifier),
	       "EPOW interrupt delivered (%s); check-exception status %d, action %u, modifier %u",
	       intc_name(intc_mode), status, action, modifier);
	status = rtas_call("check-exception", 6, 1, NULL, 0x500, irq, 0x40000000, 1,
			   (uint32_t)(uint64_t)log, (uint32_t)sizeof(log));
	report(status == 1, "no second EPOW event pending (check-exception status %d)", status);
}

int main(void)
{
	int i;

	printf("pseries-rs demo: %d vCPU(s), timebase %lu Hz\n", nr_cpus, tb_hz);
	report_info("platform offers %s%s%s",
		    cas_offers_xics() ? "XICS" : "",
		    cas_offers_xics() && cas_offers_xive() ? " and " : "",
		    cas_offers_xive() ? "XIVE" : "");
	if (intc_init(true) == INTC_NONE)
		return report_summary();
	report(cas_negotiated(OV5_INTC_BYTE) == (intc_mode == INTC_XIVE ? 0x40 : 0),
	       "CAS negotiated %s (ibm,architecture-vec-5 byte 23 = 0x%02x)",
	       intc_name(intc_mode), cas_negotiated(OV5_INTC_BYTE));

	intc_set_callback(on_irq);
	intc_cpu_enable();
	ipi_ping_pong();
	console_interrupt();
	epow_event();

	for (i = 0; i < nr_cpus && i < 2; i++)
		report_info("CPU %u took %lu interrupts", cpus[i].server, (uint64_t)taken[i]);
	for (i = 0; i < nr_cpus; i++)
		if (other_irqs[i])
			report(false, "unexpected interrupt source 0x%lx on CPU %u",
			       (uint64_t)other_irqs[i], cpus[i].server);
	printf("demo: powering off\n");
	return report_summary();
}
