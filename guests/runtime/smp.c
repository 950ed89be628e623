/*
 * Secondary CPUs: RTAS start-cpu with our big-endian-safe entry point and
 * the CPU's struct cpu as r3; a CPU whose function returns stops itself
 * with RTAS stop-self and can be started again.
 */
#include "guest.h"

#define SECONDARY_STACK (64 << 10)

extern char secondary_entry[];

int cpu_by_server(uint32_t server)
{
	int i;

	for (i = 0; i < nr_cpus; i++)
		if (cpus[i].server == server)
			return i;
	return -1;
}

int smp_start(int idx, void (*fn)(void *), void *arg)
{
	struct cpu *c = &cpus[idx];
	int rc;

	if (!c->stack_top)
		c->stack_top = (uint64_t)alloc(SECONDARY_STACK, 16) + SECONDARY_STACK;
	c->fn = fn;
	c->arg = arg;
	c->running = 1;
	sync();
	rc = rtas_call("start-cpu", 3, 1, NULL, c->server,
		       (uint32_t)(uint64_t)secondary_entry, (uint32_t)(uint64_t)c);
	if (rc)
		c->running = 0;
	return rc;
}

void smp_stop_self(void)
{
	struct cpu *c = this_cpu();

	irq_disable();
	sync();
	c->running = 0;
	sync();
	rtas_call("stop-self", 0, 1, NULL);
	abort_msg("stop-self returned on CPU %u", c->server);
}

void secondary_main(struct cpu *c)
{
	/* r13 is already c: the entry code set it. */
	dec_write(0x7fffffff);
	c->fn(c->arg);
	smp_stop_self();
}

static bool is_stopped(void *arg)
{
	struct cpu *c = arg;
	uint32_t state = 2;

	if (c->running)
		return false;
	/* The CPU clears `running` just before its RTAS stop-self: wait
	 * until the platform says it stopped, so that what follows (a CAS,
	 * which refuses while another vCPU runs, or a new start-cpu) does
	 * not race with it. */
	if (rtas_call("query-cpu-stopped-state", 1, 2, &state, c->server))
		return true;
	return state == 0;
}

bool smp_wait_stopped(int idx, uint64_t timeout_tb)
{
	return wait_until(is_stopped, &cpus[idx], timeout_tb);
}
