/*
 * SMP start and stop through RTAS: query-cpu-stopped-state, start-cpu and
 * stop-self on every secondary, repeatedly; the state a started CPU is in;
 * error returns; atomic updates from all CPUs; timebase agreement.
 *
 * Run with several vCPUs (-smp 4).
 */
#include "guest.h"

#define RTAS_HW_ERROR		(-1)
#define RTAS_PARAM_ERROR	(-3)
#define STOPPED			0
#define RUNNING			2

struct seen {
	volatile uint64_t entered, msr, tb;
	volatile uint32_t pir_ok;
};

static struct seen seen[MAX_CPUS];
extern char secondary_entry[];
static volatile uint64_t release;
static volatile uint32_t counter;

static int query(uint32_t server, uint32_t *state)
{
	return rtas_call("query-cpu-stopped-state", 1, 2, state, server);
}

/* Record how we were started, then spin (not cede: a ceded CPU is not
 * "running" for every machine, see the check below) until released. */
static void record_and_spin(void *arg)
{
	struct seen *s = arg;

	s->msr = mfmsr();
	s->tb = tb_read();
	s->entered++;
	while (!release)
		cpu_relax();
}

/* start-cpu of a CPU that should refuse; if a machine accepts anyway the
 * CPU comes up in record_and_spin like a normal start, so nothing breaks. */
static int restart(int i)
{
	cpus[i].fn = record_and_spin;
	cpus[i].arg = &seen[i];
	sync();
	return rtas_call("start-cpu", 3, 1, NULL, cpus[i].server,
			 (uint32_t)(uint64_t)secondary_entry, (uint32_t)(uint64_t)&cpus[i]);
}

static void add_many(void *arg)
{
	uint64_t i, n = (uint64_t)arg;

	for (i = 0; i < n; i++)
		__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
}

static void cede_forever(void *arg)
{
	(void)arg;
	while (!release) {
		dec_write(tb_ms(10));	/* wake up now and then to look */
		hcall(H_CEDE);
		irq_disable();
	}
}

static bool entered_at_least(void *arg)
{
	struct seen *s = (struct seen *)((uint64_t *)arg)[0];

	return s->entered >= ((uint64_t *)arg)[1];
}

static bool wait_entered(int i, uint64_t n)
{
	uint64_t a[2] = { (uint64_t)&seen[i], n };

	return wait_until(entered_at_least, a, tb_ms(5000));
}

static void start_stop_cycles(void)
{
	int i, round;
	bool all_states = true, all_msr = true, all_restarts = true;

	for (round = 1; round <= 3; round++) {
		for (i = 1; i < nr_cpus; i++) {
			uint32_t server = cpus[i].server, state = 99;
			int rc;

			release = 0;
			rc = query(server, &state);
			all_states &= rc == 0 && state == STOPPED;
			if (round == 1)
				report(rc == 0 && state == STOPPED,
				       "CPU %u stopped before start (status %d, state %u)",
				       server, rc, state);
			rc = smp_start(i, record_and_spin, &seen[i]);
			if (rc || !wait_entered(i, round)) {
				report(false, "round %d: CPU %u start-cpu %d, entered %lu times",
				       round, server, rc, (uint64_t)seen[i].entered);
				all_restarts = false;
				continue;
			}
			rc = query(server, &state);
			all_states &= rc == 0 && state == RUNNING;
			if (round == 1) {
				report(rc == 0 && state == RUNNING,
				       "CPU %u running after start-cpu (status %d, state %u)",
				       server, rc, state);
				/* Big- then little-endian entry, 64-bit, no
				 * translation, interrupts off. */
				report((seen[i].msr & (MSR_SF | MSR_LE | MSR_EE | MSR_PR | MSR_IR | MSR_DR)) ==
				       (MSR_SF | MSR_LE),
				       "CPU %u entered with MSR SF=1 LE=1 EE=0 PR=0 IR=DR=0", server);
				rc = restart(i);
				report(rc == RTAS_HW_ERROR,
				       "start-cpu of running CPU %u refused (status %d, expected %d)",
				       server, rc, RTAS_HW_ERROR);
			}
			all_msr &= (seen[i].msr & MSR_LE) != 0;
			release = 1;
			if (!smp_wait_stopped(i, tb_ms(5000))) {
				report(false, "round %d: CPU %u did not stop", round, server);
				all_restarts = false;
				continue;
			}
			/* stop-self is asynchronous from our side: the flag is
			 * cleared just before the call. */
			delay_tb(tb_ms(2));
			rc = query(server, &state);
			all_states &= rc == 0 && state == STOPPED;
			if (round == 1)
				report(rc == 0 && state == STOPPED,
				       "CPU %u stopped after stop-self (status %d, state %u)",
				       server, rc, state);
		}
	}
	report(all_restarts, "3 rounds of start-cpu/stop-self on %d secondaries", nr_cpus - 1);
	report(all_states && all_msr, "stopped/running states and entry MSR held in every round");
}

static void errors(void)
{
	uint32_t state;
	int rc;

	rc = query(0xfffff, &state);
	report(rc == RTAS_PARAM_ERROR, "query-cpu-stopped-state of server 0xfffff: %d", rc);
	rc = rtas_call("start-cpu", 3, 1, NULL, 0xfffff, 0x400000, 0);
	report(rc == RTAS_PARAM_ERROR, "start-cpu of server 0xfffff: %d", rc);
	rc = rtas_call("start-cpu", 2, 1, NULL, cpus[nr_cpus - 1].server, 0x400000);
	report(rc == RTAS_PARAM_ERROR, "start-cpu with 2 arguments: %d", rc);
	rc = rtas_call("query-cpu-stopped-state", 1, 1, NULL, cpus[0].server);
	report(rc == RTAS_PARAM_ERROR, "query-cpu-stopped-state with 1 return: %d", rc);
	rc = query(cpus[0].server, &state);
	report(rc == 0 && state == RUNNING, "the calling CPU %u is running (state %u)",
	       cpus[0].server, state);
}

static void all_at_once(void)
{
	const uint64_t n = 10000;
	uint64_t tb_before = tb_read();
	int i, started = 0;
	bool stopped = true, tb_ok = true;

	counter = 0;
	release = 0;
	for (i = 1; i < nr_cpus; i++)
		started += smp_start(i, add_many, (void *)n) == 0;
	add_many((void *)n);
	for (i = 1; i < nr_cpus; i++)
		stopped &= smp_wait_stopped(i, tb_ms(20000));
	report(started == nr_cpus - 1 && stopped,
	       "all %d secondaries started together and stopped", nr_cpus - 1);
	report(counter == n * nr_cpus, "atomic adds from %d CPUs: %u (expected %lu)",
	       nr_cpus, counter, n * nr_cpus);

	/* Timebase: a value a secondary read after we read ours is not older. */
	for (i = 1; i < nr_cpus; i++) {
		seen[i].entered = 0;
		release = 1;
		if (smp_start(i, record_and_spin, &seen[i]) || !wait_entered(i, 1)) {
			tb_ok = false;
			continue;
		}
		tb_ok &= seen[i].tb >= tb_before && tb_read() >= seen[i].tb;
		smp_wait_stopped(i, tb_ms(5000));
	}
	report(tb_ok, "timebase agrees across CPUs");
}

/* PAPR: "stopped" is the RTAS stopped state only; a CPU idle in H_CEDE is
 * not stopped and must not be restartable. */
static void ceded_cpu(void)
{
	int i = nr_cpus - 1, rc;
	uint32_t server = cpus[i].server, state = 99;

	release = 0;
	if (smp_start(i, cede_forever, NULL)) {
		report(false, "start-cpu of CPU %u for the H_CEDE checks", server);
		return;
	}
	delay_tb(tb_ms(50));	/* let it reach H_CEDE */
	rc = query(server, &state);
	report(rc == 0 && state == RUNNING,
	       "CPU %u idle in H_CEDE reported running (status %d, state %u)", server, rc, state);
	seen[i].entered = 0;
	release = 0;
	rc = restart(i);
	report(rc == RTAS_HW_ERROR, "start-cpu of CPU %u idle in H_CEDE refused (status %d)",
	       server, rc);
	if (rc == 0)
		report_info("CPU %u was restarted: %s", server,
			    wait_entered(i, 1) ? "it runs the new entry point" : "and never arrived");
	/* Its H_CEDE ends at the next decrementer; the old or the new
	 * function then sees `release` and the CPU stops itself. */
	release = 1;
	report(smp_wait_stopped(i, tb_ms(6000)), "CPU %u stopped itself", server);
}

int main(void)
{
	char servers[64] = "";
	int i, n = 0;

	for (i = 0; i < nr_cpus; i++)
		n += snprintf(servers + n, sizeof(servers) - n, " %u", cpus[i].server);
	report_info("%d CPUs, servers%s, boot CPU %u", nr_cpus, servers, fdt_boot_cpuid());
	if (nr_cpus < 2) {
		report_skip("needs at least 2 vCPUs (-smp 4)");
		return report_summary();
	}
	uint64_t t = tb_read();
	start_stop_cycles();
	printf("TIME: start/stop cycles %lu ms\n", (tb_read() - t) / tb_ms(1));
	t = tb_read();
	errors();
	all_at_once();
	printf("TIME: all at once %lu ms\n", (tb_read() - t) / tb_ms(1));
	t = tb_read();
	ceded_cpu();
	printf("TIME: ceded %lu ms\n", (tb_read() - t) / tb_ms(1));
	return report_summary();
}
