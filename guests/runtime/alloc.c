/*
 * Bump allocator over the RAM after the image.  The boot code first
 * places the device tree there, so nothing the machine put in memory
 * (QEMU puts the tree near the top of the RMA) is ever overwritten by
 * our own data.  Nothing is freed: guests are short programs.
 */
#include "guest.h"

static uint64_t next, limit;
static volatile uint32_t lock;

void alloc_init(uint64_t start, uint64_t end)
{
	next = start;
	limit = end;
}

void *alloc(size_t size, size_t align)
{
	uint64_t p, ee = irq_save();

	while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
	p = (next + align - 1) & ~(uint64_t)(align - 1);
	if (p + size > limit || p + size < p) {
		__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
		abort_msg("out of memory: %lu bytes aligned %lu", (uint64_t)size,
			  (uint64_t)align);
	}
	next = p + size;
	__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
	irq_restore(ee);
	memset((void *)p, 0, size);
	return (void *)p;
}
