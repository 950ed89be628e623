/* Timebase frequency and cede-based delays. */
#include "guest.h"

uint64_t tb_hz = 512000000;	/* replaced by timebase-frequency at boot */

static bool never(void *arg)
{
	(void)arg;
	return false;
}

void delay_tb(uint64_t ticks)
{
	wait_until(never, NULL, ticks);
}
