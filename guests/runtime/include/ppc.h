/* Processor helpers: SPRs, MSR, barriers, byte-reversed (big-endian) MMIO. */
#ifndef GUEST_PPC_H
#define GUEST_PPC_H

#include <stdint.h>

#define SPR_DEC		22
#define SPR_SRR0	26
#define SPR_SRR1	27
#define SPR_TB		268
#define SPR_PVR		287

#define MSR_SF		(1ull << 63)
#define MSR_EE		(1ull << 15)
#define MSR_PR		(1ull << 14)
#define MSR_ME		(1ull << 12)
#define MSR_IR		(1ull << 5)
#define MSR_DR		(1ull << 4)
#define MSR_RI		(1ull << 1)
#define MSR_LE		(1ull << 0)

#define mfspr(n) ({ uint64_t v_; asm volatile("mfspr %0, %1" : "=r"(v_) : "i"(n)); v_; })
#define mtspr(n, v) asm volatile("mtspr %0, %1" : : "i"(n), "r"((uint64_t)(v)) : "memory")

static inline uint64_t mfmsr(void)
{
	uint64_t v;
	asm volatile("mfmsr %0" : "=r"(v));
	return v;
}

/* mtmsrd L=1 changes only EE and RI, which is all this runtime needs. */
static inline void irq_enable(void)
{
	asm volatile("mtmsrd %0, 1" : : "r"(MSR_EE | MSR_RI) : "memory");
}
static inline void irq_disable(void)
{
	asm volatile("mtmsrd %0, 1" : : "r"(MSR_RI) : "memory");
}
static inline uint64_t irq_save(void)
{
	uint64_t msr = mfmsr();
	irq_disable();
	return msr & MSR_EE;
}
static inline void irq_restore(uint64_t ee)
{
	if (ee)
		irq_enable();
}

static inline uint64_t tb_read(void)
{
	return mfspr(SPR_TB);
}
/* DEC is 32 or `ibm,dec-bits` wide; the value is sign-extended on read. */
static inline void dec_write(int64_t v)
{
	mtspr(SPR_DEC, v);
}
static inline int64_t dec_read(void)
{
	return (int64_t)mfspr(SPR_DEC);
}

static inline void sync(void) { asm volatile("sync" : : : "memory"); }
static inline void lwsync(void) { asm volatile("lwsync" : : : "memory"); }
static inline void isync(void) { asm volatile("isync" : : : "memory"); }
static inline void eieio(void) { asm volatile("eieio" : : : "memory"); }
static inline void cpu_relax(void) { asm volatile("or 1,1,1; or 2,2,2" : : : "memory"); }

/*
 * Device registers (XIVE ESB pages and TIMA) are big-endian; the guest is
 * little-endian, so accesses use the byte-reversed forms, with the sizes
 * Linux uses (the devices reject other sizes).
 */
static inline uint64_t mmio_ld64(uint64_t addr)
{
	uint64_t v;
	asm volatile("sync; ldbrx %0, 0, %1; isync"
		     : "=r"(v) : "r"(addr) : "memory");
	return v;
}
static inline void mmio_st64(uint64_t addr, uint64_t v)
{
	asm volatile("sync; stdbrx %0, 0, %1" : : "r"(v), "r"(addr) : "memory");
}
static inline uint32_t mmio_ld32(uint64_t addr)
{
	uint32_t v;
	asm volatile("sync; lwbrx %0, 0, %1; isync"
		     : "=r"(v) : "r"(addr) : "memory");
	return v;
}
static inline uint16_t mmio_ld16(uint64_t addr)
{
	uint16_t v;
	asm volatile("sync; lhbrx %0, 0, %1; isync"
		     : "=r"(v) : "r"(addr) : "memory");
	return v;
}
static inline void mmio_st8(uint64_t addr, uint8_t v)
{
	asm volatile("sync; stb %0, 0(%1)" : : "r"(v), "r"(addr) : "memory");
}

/* Make freshly written code visible to instruction fetch. */
static inline void flush_icache(void *start, unsigned long len)
{
	unsigned long p, end = (unsigned long)start + len;

	for (p = (unsigned long)start & ~63ul; p < end; p += 64)
		asm volatile("dcbst 0, %0; sync; icbi 0, %0" : : "r"(p) : "memory");
	asm volatile("sync; isync" : : : "memory");
}

#endif
