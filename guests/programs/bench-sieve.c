/*
 * Compute-bound workload (issue 9, workload 4): the sieve of Eratosthenes
 * over n numbers (default 1,000,000, -append n=...), run `runs` times
 * (default 1; the issue 9 benchmark passes n=10000000 runs=3), first in real mode, then with radix translation on
 * (H_REGISTER_PROCESS_TABLE, PID 1, 4 KiB pages mapping the first
 * `map` bytes of RAM one to one, default 64 MiB, -append map=...).  The
 * prime count is checked; the time per number sieved is on the
 * `TIME: BENCH` lines.  -append real skips the radix part.
 */
#include "guest.h"

#define SPR_PIDR	48

/* Radix tree entries (big-endian in memory, like the process table). */
#define R_VALID		0x8000000000000000ull
#define R_LEAF		0x4000000000000000ull
#define R_REF		0x100ull	/* R: software-set, no hardware update */
#define R_CHG		0x80ull		/* C */
#define R_PRIV		0x8ull
#define R_READ		0x4ull
#define R_RW		0x2ull
#define R_EXEC		0x1ull
#define PTE_BITS	(R_VALID | R_LEAF | R_REF | R_CHG | R_PRIV | R_READ | R_RW | R_EXEC)

static void put_be64(uint64_t *p, uint64_t v)
{
	*p = __builtin_bswap64(v);
}

static uint64_t *next_level(uint64_t *table, uint64_t idx)
{
	if (!table[idx])
		put_be64(&table[idx], R_VALID | (uint64_t)alloc(4096, 4096) | 9);
	return (uint64_t *)(__builtin_bswap64(table[idx]) & 0x00fffffffffff000ull);
}

/* A 52-bit address space in four levels of 13, 9, 9 and 9 bits of
 * 4 KiB pages. */
static void map_page(uint64_t *root, uint64_t ea, uint64_t pa)
{
	uint64_t *pud = next_level(root, (ea >> 39) & 0x1fff);
	uint64_t *pmd = next_level(pud, (ea >> 30) & 0x1ff);
	uint64_t *pte = next_level(pmd, (ea >> 21) & 0x1ff);

	put_be64(&pte[(ea >> 12) & 0x1ff], PTE_BITS | pa);
}

#define ALIAS_EA (1ull << 40)

/* One to one below `map`, plus ALIAS_EA -> the page at `alias`; returns
 * the root (64 KiB, naturally aligned). */
static uint64_t *build_tree(uint64_t map, uint64_t alias)
{
	uint64_t *root = alloc(8 << 13, 8 << 13), ea;

	for (ea = 0; ea < map; ea += 4096)
		map_page(root, ea, ea);
	map_page(root, ALIAS_EA, alias);
	return root;
}

/* Process table of 4 KiB (16 entries): PID 1 gets the tree. */
static long radix_on(uint64_t map, uint64_t alias)
{
	uint64_t *prtb = alloc(4096, 4096), *root = build_tree(map, alias);
	/* RTS = 52 - 31 = 0b10101: RTS1 = 0b10 in bits 1-2, RTS2 = 0b101 in
	 * bits 56-58; RPDS = 13 (root index bits). */
	uint64_t rts = (2ull << 61) | (5ull << 5);
	long rc;

	put_be64(&prtb[2], rts | (uint64_t)root | 13);
	sync();
	/* flags: modify | register | radix | GTSE */
	rc = hcall(H_REGISTER_PROC_TBL, 0x1d, (uint64_t)prtb, 0, 0);
	if (rc != H_SUCCESS)
		return rc;
	mtspr(SPR_PIDR, 1);
	isync();
	asm volatile("mtmsrd %0; isync" : : "r"(mfmsr() | MSR_IR | MSR_DR) : "memory");
	return H_SUCCESS;
}

static void radix_off(void)
{
	asm volatile("mtmsrd %0; isync" : : "r"(mfmsr() & ~(MSR_IR | MSR_DR)) : "memory");
}

static uint64_t sieve(uint8_t *composite, uint64_t n)
{
	uint64_t i, j, primes = 0;

	memset(composite, 0, n);
	for (i = 2; i < n; i++) {
		if (composite[i])
			continue;
		primes++;
		for (j = i * i; j < n; j += i)
			composite[j] = 1;
	}
	return primes;
}

/* pi(n) for the sizes a harness is likely to pass. */
static uint64_t expected(uint64_t n)
{
	switch (n) {
	case 1000000: return 78498;
	case 10000000: return 664579;
	case 100000000: return 5761455;
	}
	return 0;
}

static void run(const char *name, uint8_t *buf, uint64_t n, uint64_t runs)
{
	uint64_t r, t0, t1, count = 0;
	bool ok = true;

	t0 = tb_read();
	for (r = 0; r < runs; r++) {
		count = sieve(buf, n);
		ok &= !expected(n) || count == expected(n);
	}
	t1 = tb_read();
	report(ok, "%lu primes below %lu, %lu run(s), %s", count, n, runs, name);
	printf("TIME: BENCH sieve-%s %lu ps/number (%lu numbers, %lu runs, %lu ms)\n", name,
	       (t1 - t0) * 1000000 / (tb_hz / 1000000) / (n * (runs ? runs : 1)), n, runs,
	       (t1 - t0) / tb_ms(1));
}

int main(void)
{
	uint64_t n = 1000000, runs = 1, map = 64 << 20;
	uint8_t *buf;
	long rc;

	bootarg_u64("n", &n);
	bootarg_u64("runs", &runs);
	bootarg_u64("map", &map);
	buf = alloc(n, 4096);
	run("real", buf, n, runs);
	if (bootarg("real"))
		return report_summary();
	if ((uint64_t)buf + n > map) {
		report(false, "the sieve buffer ends above the %lu MiB mapped", map >> 20);
		return report_summary();
	}
	rc = radix_on(map, (uint64_t)buf);
	report(rc == H_SUCCESS, "H_REGISTER_PROCESS_TABLE (radix, PID 1): %s",
	       hcall_rc_name(rc) ? hcall_rc_name(rc) : "?");
	if (rc != H_SUCCESS)
		return report_summary();
	report((mfmsr() & (MSR_IR | MSR_DR)) == (MSR_IR | MSR_DR),
	       "translation on, %lu MiB mapped with 4 KiB pages", map >> 20);
	/* A store through an alias address shows up at the page it maps. */
	buf[8] = 0;
	*(volatile uint8_t *)(ALIAS_EA + 8) = 0x5a;
	report(buf[8] == 0x5a, "a page mapped at 0x%llx aliases the sieve buffer", ALIAS_EA);
	run("radix", buf, n, runs);
	radix_off();
	return report_summary();
}
