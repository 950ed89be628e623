/*
 * From the entry code to main(): self-relocation, moving the device tree,
 * per-CPU state, interrupt vectors, little-endian interrupts.
 */
#include "guest.h"

#define R_PPC64_RELATIVE 22

struct rela {
	uint64_t offset;
	uint64_t info;
	int64_t addend;
};

extern struct rela __rela_start[], __rela_end[];
extern char __bss_start[], __bss_end[], _end[];
extern char vectors_start[], vectors_end[];
extern char exc_common[];

struct cpu cpus[MAX_CPUS];
int nr_cpus;
const char *bootargs = "";

_Static_assert(__builtin_offsetof(struct cpu, toc) == CPU_TOC, "layout.h");
_Static_assert(__builtin_offsetof(struct cpu, exc_entry) == CPU_EXC_ENTRY, "layout.h");
_Static_assert(__builtin_offsetof(struct cpu, stack_top) == CPU_STACK, "layout.h");
_Static_assert(__builtin_offsetof(struct frame, gpr) == FRAME_GPR, "layout.h");
_Static_assert(__builtin_offsetof(struct frame, ctr) == FRAME_CTR, "layout.h");
_Static_assert(__builtin_offsetof(struct frame, lr) == FRAME_LR, "layout.h");
_Static_assert(__builtin_offsetof(struct frame, xer) == FRAME_XER, "layout.h");
_Static_assert(__builtin_offsetof(struct frame, cr) == FRAME_CR, "layout.h");
_Static_assert(__builtin_offsetof(struct frame, srr0) == FRAME_SRR0, "layout.h");
_Static_assert(__builtin_offsetof(struct frame, srr1) == FRAME_SRR1, "layout.h");
_Static_assert(__builtin_offsetof(struct frame, vec) == FRAME_VEC, "layout.h");
_Static_assert(sizeof(struct frame) == FRAME_SIZE, "layout.h");

void console_init(void);
void alloc_init(uint64_t start, uint64_t end);

/*
 * The image is linked at 0; every stored address (GOT entries, pointers in
 * initialised data) has an R_PPC64_RELATIVE entry whose addend is the
 * link-time value.  Runs before anything reads such an address, and must
 * itself only use TOC-relative references (the symbols are hidden).
 */
static void relocate(uint64_t base)
{
	struct rela *r;

	for (r = __rela_start; r < __rela_end; r++) {
		if ((r->info & 0xffffffff) != R_PPC64_RELATIVE)
			for (;;)	/* cannot print yet: hang visibly */
				;
		*(uint64_t *)(base + r->offset) = base + r->addend;
	}
}

static void cpu_setup(struct cpu *c, int index, uint32_t server)
{
	uint64_t toc;

	asm("mr %0, 2" : "=r"(toc));
	c->toc = toc;
	c->exc_entry = (uint64_t)exc_common;
	c->index = index;
	c->server = server;
	c->dec_handler = dec_default;
}

/* CPUs in DT order, one per ibm,ppc-interrupt-server#s entry; the boot
 * CPU is moved to cpus[0] so that index 0 is "the CPU running main". */
static void find_cpus(void)
{
	int cpus_node = fdt_path("/cpus"), node, len, i;
	uint32_t boot = fdt_boot_cpuid(), v;
	bool have_tb = false;

	for (node = fdt_first_child(cpus_node); node >= 0; node = fdt_next_sibling(node)) {
		const char *type = fdt_prop(node, "device_type", NULL);
		const char *servers = fdt_prop(node, "ibm,ppc-interrupt-server#s", &len);

		if (!type || strcmp(type, "cpu") || !servers)
			continue;
		if (!have_tb && fdt_prop_u32(node, "timebase-frequency", 0, &v)) {
			tb_hz = v;
			have_tb = true;
		}
		for (i = 0; i < len / 4 && nr_cpus < MAX_CPUS; i++, nr_cpus++)
			cpu_setup(&cpus[nr_cpus], nr_cpus, be32(servers + 4 * i));
	}
	for (i = 1; i < nr_cpus; i++) {
		if (cpus[i].server == boot) {
			uint32_t s = cpus[0].server;

			cpus[0].server = boot;
			cpus[i].server = s;
		}
	}
	if (!nr_cpus)
		cpu_setup(&cpus[nr_cpus++], 0, boot);
}

/* Size of the RAM that starts at 0 (the first memory node's first range). */
static uint64_t ram_size(void)
{
	int node = fdt_find_device_type(0, "memory"), len;
	const char *reg = fdt_prop(node, "reg", &len);

	if (!reg || len < 16)
		return 256ull << 20;	/* the least any machine gives us */
	return be64(reg + 8);
}

static void install_vectors(void)
{
	size_t len = vectors_end - vectors_start;

	if (len > VECTORS_END - VECTORS_BASE)
		abort_msg("vectors do not fit below 0x1000");
	memcpy((void *)VECTORS_BASE, vectors_start, len);
	flush_icache((void *)VECTORS_BASE, len);
}

bool bootarg(const char *word)
{
	const char *p = bootargs;
	size_t n = strlen(word);

	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, word, n) && (p[n] == ' ' || p[n] == 0))
			return true;
		while (*p && *p != ' ')
			p++;
	}
	return false;
}

bool bootarg_u64(const char *key, uint64_t *val)
{
	const char *p = bootargs;
	size_t n = strlen(key);

	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, n) && p[n] == '=') {
			uint64_t v = 0;
			unsigned base = 10;

			p += n + 1;
			if (p[0] == '0' && p[1] == 'x') {
				base = 16;
				p += 2;
			}
			for (;; p++) {
				unsigned d;

				if (*p >= '0' && *p <= '9')
					d = *p - '0';
				else if (base == 16 && *p >= 'a' && *p <= 'f')
					d = *p - 'a' + 10;
				else
					break;
				v = v * base + d;
			}
			*val = v;
			return true;
		}
		while (*p && *p != ' ')
			p++;
	}
	return false;
}

void boot_main(const void *boot_fdt, uint64_t base)
{
	uint64_t heap, ram;
	const char *args;
	long rc;

	bool fdt_ok;

	relocate(base);
	/* The device tree goes first after the image, where neither our stack
	 * nor later allocations can overwrite it; copied before .bss is
	 * cleared in case a loader put it there. */
	heap = ((uint64_t)_end + 0xffff) & ~0xffffull;
	fdt_ok = fdt_valid(boot_fdt);
	if (fdt_ok)
		memmove((void *)heap, boot_fdt, be32((const char *)boot_fdt + 4));
	memset(__bss_start, 0, __bss_end - __bss_start);
	asm volatile("mr 13, %0" : : "r"(&cpus[0]) : "memory");
	if (!fdt_ok)
		abort_msg("no valid device tree at r3");
	fdt = (const void *)heap;
	heap += be32((const char *)fdt + 4);

	find_cpus();
	cpus[0].running = 1;

	ram = ram_size();
	alloc_init(heap, ram < (1ull << 30) ? ram : (1ull << 30));
	console_init();

	/* No decrementer interrupt until someone asks for one: after reset
	 * DEC counts down from 0xffffffff and goes negative soon. */
	dec_write(0x7fffffff);
	install_vectors();
	rc = hcall(H_SET_MODE, 1, 4, 0, 0);	/* little-endian interrupts */
	if (rc != H_SUCCESS)
		abort_msg("H_SET_MODE(LE) returned %ld", rc);

	args = fdt_prop(fdt_path("/chosen"), "bootargs", NULL);
	if (args)
		bootargs = args;

	exit(main());
}

void exception_dispatch(struct frame *f)
{
	struct cpu *c = this_cpu();

	switch (f->vec) {
	case 0x500:
		c->ext_count++;
		if (c->ext_handler) {
			c->ext_handler(f);
			return;
		}
		break;
	case 0x900:
		c->dec_count++;
		if (c->dec_handler) {
			c->dec_handler(f);
			return;
		}
		break;
	}
	printf("ABORT: unexpected exception 0x%lx on CPU %u: SRR0=0x%lx SRR1=0x%lx LR=0x%lx\n",
	       f->vec, c->server, f->srr0, f->srr1, f->lr);
	exit(63);
}

void dec_default(struct frame *f)
{
	(void)f;
	dec_write(0x7fffffff);
}

void set_ext_handler(irq_handler_t h)
{
	this_cpu()->ext_handler = h;
}

void set_dec_handler(irq_handler_t h)
{
	this_cpu()->dec_handler = h ? h : dec_default;
}

/*
 * Check with EE=0, then cede: H_CEDE sets EE and returns once an
 * interrupt is pending, which is then taken right after the sc.  The
 * decrementer ends each cede after at most 1 ms, so conditions that
 * another CPU changes without sending an interrupt are seen promptly and
 * the timeout is honoured.
 */
bool wait_until(bool (*cond)(void *), void *arg, uint64_t timeout_tb)
{
	uint64_t ee = irq_save(), start = tb_read();
	bool ok;

	while (!(ok = cond(arg))) {
		uint64_t now = tb_read(), left;

		if (now - start >= timeout_tb)
			break;
		left = timeout_tb - (now - start);
		dec_write(left > tb_ms(1) ? (int64_t)tb_ms(1) : (int64_t)left);
		hcall(H_CEDE);
		irq_disable();
	}
	dec_write(0x7fffffff);
	irq_restore(ee);
	return ok;
}

static bool is_nonzero(void *p)
{
	return *(volatile uint64_t *)p != 0;
}

bool wait_nonzero(volatile uint64_t *p, uint64_t timeout_tb)
{
	return wait_until(is_nonzero, (void *)p, timeout_tb);
}
