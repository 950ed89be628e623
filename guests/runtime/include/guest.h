/*
 * The pseries-rs guest runtime: what a program gets.
 *
 * A program defines `int main(void)`.  The runtime has then already
 * relocated the image, moved the device tree out of the way, installed the
 * interrupt vectors, switched interrupts to little-endian (H_SET_MODE) and
 * found the console, the RTAS tokens and the CPUs in the device tree.
 * main's return value goes to exit(): `EXIT: STATUS=<(code<<1)|1>` and
 * RTAS power-off.
 *
 * Console line conventions (the harness and `cargo xtask compare` rely on
 * them): `PASS:`/`FAIL:`/`SKIP:` one check each, `INFO:` a deterministic
 * fact, `TIME:` anything that varies between runs (dropped when
 * transcripts are compared), `WAIT: <action>` a request to the harness
 * (key, powerdown, migrate), `SUMMARY:` and `EXIT:` at the end.
 */
#ifndef GUEST_H
#define GUEST_H

/* Every symbol is resolved inside the image: no GOT indirection is needed,
 * which also keeps code that runs before relocation honest. */
#pragma GCC visibility push(hidden)

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "ppc.h"
#include "hcall.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_CPUS 8

/* --- strings and memory (string.c) --- */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

/* --- console (console.c, printf.c) --- */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void console_write(const char *s, size_t len);
/* Next input character, or -1 if none is waiting (never blocks). */
int console_getc(void);
/* Unit address of the vty (its `reg`), 0 if the DT has none. */
extern uint32_t console_vterm;
/* Its interrupt number from the DT `interrupts` property, 0 if none. */
extern uint32_t console_irq;

/* --- checks and exit (report.c) --- */
void report(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void report_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void report_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints SUMMARY and returns the exit code: 0 all passed, 1 a failure,
 * 38 (STATUS=77) when everything was skipped. */
int report_summary(void);
unsigned report_failures(void);
void exit(int code) __attribute__((noreturn));
void abort_msg(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* --- flattened device tree (fdt.c) --- */
extern const void *fdt;
int fdt_path(const char *path);
int fdt_next_node(int node, int *depth);
int fdt_first_child(int node);
int fdt_next_sibling(int node);
const char *fdt_name(int node);
const void *fdt_prop(int node, const char *name, int *len);
bool fdt_prop_u32(int node, const char *name, int idx, uint32_t *val);
int fdt_find_compatible(int from, const char *compat);
int fdt_find_device_type(int from, const char *type);
uint32_t fdt_boot_cpuid(void);
/* Adopt a new tree (copied to runtime-owned memory). */
void fdt_adopt(const void *blob);
bool fdt_valid(const void *blob);
static inline uint32_t be32(const void *p)
{
	return __builtin_bswap32(*(const uint32_t *)p);
}
static inline uint64_t be64(const void *p)
{
	return ((uint64_t)be32(p) << 32) | be32((const char *)p + 4);
}

/* --- RTAS (rtas.c) --- */
#define RTAS_NO_TOKEN (-99)	/* our own code: the call is not in /rtas */
int rtas_token(const char *name);
/* Calls `name` with nargs 32-bit arguments; stores nret-1 extra return
 * cells in rets (may be NULL) and returns the status cell, or
 * RTAS_NO_TOKEN. */
int rtas_call(const char *name, int nargs, int nret, uint32_t *rets, ...);
/* The hcall's own return code of the last call on this CPU (H_SUCCESS or
 * H_PARAMETER for an unknown token). */
long rtas_last_hcall_rc(void);

/* --- time (time.c) --- */
extern uint64_t tb_hz;		/* from timebase-frequency */
static inline uint64_t tb_ms(uint64_t ms) { return tb_hz / 1000 * ms; }
static inline uint64_t tb_us(uint64_t us) { return tb_hz / 1000000 * us; }
void delay_tb(uint64_t ticks);	/* cedes while waiting */

/* --- CPUs and interrupts (cpu.c, smp.c) --- */
struct frame {
	uint64_t abi[4];	/* back chain, CR, LR, TOC save of the ABI */
	uint64_t gpr[13];	/* r0..r12 (gpr[1] = interrupted r1) */
	uint64_t ctr, lr, xer, cr, srr0, srr1, vec;
};

typedef void (*irq_handler_t)(struct frame *f);

struct cpu {
	uint64_t toc;		/* CPU_TOC */
	uint64_t exc_entry;	/* CPU_EXC_ENTRY */
	uint64_t stack_top;	/* CPU_STACK */
	uint32_t index;		/* position in cpus[] */
	uint32_t server;	/* ibm,ppc-interrupt-server#s: the hardware id */
	volatile int running;	/* set by the CPU itself, cleared at stop-self */
	void (*fn)(void *);
	void *arg;
	irq_handler_t ext_handler;	/* 0x500 */
	irq_handler_t dec_handler;	/* 0x900 */
	volatile uint64_t ext_count;
	volatile uint64_t dec_count;
	uint32_t rtas_buf[3 + 16] __attribute__((aligned(8)));
	long rtas_rc;
	void (*intc_cb)(uint32_t src);	/* see intc_set_callback */
	uint32_t xirr;		/* XICS: the XIRR being serviced */
};

extern struct cpu cpus[MAX_CPUS];
extern int nr_cpus;
static inline struct cpu *this_cpu(void)
{
	struct cpu *c;
	asm("mr %0, 13" : "=r"(c));
	return c;
}
int cpu_by_server(uint32_t server);	/* index, or -1 */

/* Handlers run with EE=0 on the interrupted stack; set per CPU. */
void set_ext_handler(irq_handler_t h);
void set_dec_handler(irq_handler_t h);
/* The default 0x900 handler: counts and re-arms the DEC far away. */
void dec_default(struct frame *f);

/* Start cpus[idx] running fn(arg); returns the RTAS status.  fn returning
 * (or calling smp_stop_self) stops the CPU with RTAS stop-self. */
int smp_start(int idx, void (*fn)(void *), void *arg);
void smp_stop_self(void) __attribute__((noreturn));
/* Wait until cpus[idx] has stopped itself (its `running` flag). */
bool smp_wait_stopped(int idx, uint64_t timeout_tb);

/* Cede until cond(arg) is true (checked with EE=0) or the timeout passes;
 * returns cond's last value.  Leaves EE as it found it. */
bool wait_until(bool (*cond)(void *), void *arg, uint64_t timeout_tb);
/* Wait for *p != 0 with the same rules. */
bool wait_nonzero(volatile uint64_t *p, uint64_t timeout_tb);

/* --- memory (alloc.c) --- */
/* Zeroed memory after the image and the device tree; never freed. */
void *alloc(size_t size, size_t align);

/* --- program entry --- */
int main(void);
/* Kernel command line (-append), "" if none. */
extern const char *bootargs;
bool bootarg(const char *word);	/* is `word` one of the -append words? */
/* Value of a `key=N` word (decimal or 0x hex); false if absent. */
bool bootarg_u64(const char *key, uint64_t *val);

#endif
