/*
 * Interrupt controllers as a guest sees them: CAS negotiation, the XIVE
 * exploitation-mode interface (H_INT_* hcalls, ESB pages, TIMA, event
 * queues), XICS hcalls, and a small mode-independent layer for programs
 * that only want "IPIs and device interrupts, whatever the mode".
 */
#ifndef GUEST_INTC_H
#define GUEST_INTC_H

#include "guest.h"

/* --- CAS (cas.c) --- */
#define OV5_INTC_BYTE	23
#define OV5_MMU_BYTE	24
#define OV5_RADIX_BYTE	26
#define OV5_XIVE_EXPLOIT 0x40	/* byte 23 value the guest asks for XIVE */
#define OV5_XIVE_EITHER	0x80	/* platform support: both offered */

/* Value paired with OV5 byte `index` in
 * /chosen/ibm,arch-vec-5-platform-support, -1 if not listed. */
int cas_platform_support(int index);
bool cas_offers_xics(void);
bool cas_offers_xive(void);
/* Byte `n` of the negotiated /chosen/ibm,architecture-vec-5, -1 if the
 * property is missing or too short. */
int cas_negotiated(int n);
/* Call KVMPPC_H_CAS asking for these OV5 bytes 23, 24, 26; on success the
 * device tree the hypervisor returns replaces ours.  Returns the hcall's
 * return code. */
long cas_call(uint8_t intc, uint8_t mmu, uint8_t radix_ext);
/* The 4 header bytes the last successful cas_call found before the tree. */
extern uint8_t cas_header[4];
/* CAS asking for XIVE (true) or XICS, with the MMU bytes the platform
 * offers (radix + GTSE when offered).  Returns the hcall's rc. */
long cas_request(bool xive);

/* --- XICS (intc.c) --- */
#define XICS_IPI	2	/* XISR of an IPI */
#define XICS_IPI_PRIO	4
#define XICS_DEV_PRIO	5

/* --- XIVE (xive.c) --- */
#define XIVE_SRC_H_INT_ESB	0x8	/* H_INT_GET_SOURCE_INFO flags */
#define XIVE_SRC_LSI		0x4
#define XIVE_SRC_TRIGGER	0x2
#define XIVE_SRC_STORE_EOI	0x1

#define XIVE_ESB_LOAD_EOI	0x000
#define XIVE_ESB_GET		0x800
#define XIVE_ESB_SET_PQ_00	0xc00
#define XIVE_ESB_SET_PQ_01	0xd00
#define XIVE_ESB_SET_PQ_10	0xe00
#define XIVE_ESB_SET_PQ_11	0xf00

#define TM_QW1_OS		0x10
#define TM_CPPR			0x1
#define TM_SPC_ACK_OS_REG	0x810

struct xive_source {
	uint32_t lisn;
	uint64_t flags;
	uint64_t eoi_page;	/* management page, -1 with H_INT_ESB */
	uint64_t trig_page;	/* trigger page, -1 with H_INT_ESB */
	uint32_t shift;
};

struct xive_queue {
	uint32_t *qpage;
	uint32_t entries;
	uint32_t idx;
	uint32_t toggle;	/* an entry is new when its bit 31 differs */
};

struct xive_info {
	uint64_t tima_os;	/* reg entry 1 of the ivpe node */
	uint32_t ipi_base, ipi_count;	/* first ibm,xive-lisn-ranges entry */
	uint32_t prio;		/* highest priority not reserved */
	uint32_t eq_shift;
	struct xive_queue queues[MAX_CPUS];
};
extern struct xive_info xive;

/* Reads the ivpe node and friends from the (post-CAS) tree; false if there
 * is no XIVE in it. */
bool xive_probe(void);
long xive_source_info(uint32_t lisn, struct xive_source *src);
/* GET_QUEUE_INFO + SET_QUEUE_CONFIG(ALWAYS_NOTIFY) of a fresh zeroed queue
 * for cpus[idx]; returns the first failing rc. */
long xive_queue_setup(int idx);
long xive_route(uint32_t lisn, int cpu_idx, uint32_t eisn);
/* ESB access through the MMIO pages, or H_INT_ESB when the source asks. */
uint64_t xive_esb_load(const struct xive_source *src, uint32_t offset);
void xive_esb_trigger(const struct xive_source *src);
/* Source EOI the way Linux does it (LSI: load EOI; MSI: PQ=00 and
 * re-trigger if Q was set). */
void xive_source_eoi(const struct xive_source *src);
/* This CPU's TIMA, OS ring. */
uint16_t xive_ack(void);
void xive_set_cppr(uint8_t cppr);
uint32_t xive_tima_word0(void);	/* NSR, CPPR, IPB, LSMFB of QW1 */
/* Next EISN in cpus[idx]'s queue, 0 if empty. */
uint32_t xive_queue_pop(int idx);

/* --- mode-independent layer (intc.c) --- */
enum intc_mode { INTC_NONE, INTC_XICS, INTC_XIVE };
extern enum intc_mode intc_mode;
const char *intc_name(enum intc_mode m);

#define INTC_SRC_IPI	0x40000000u	/* what intc_next returns for an IPI */

/* CAS for XIVE when `prefer_xive` and offered, else XICS; then set up
 * queues and IPIs for every CPU.  INTC_NONE (after a FAIL line) if CAS or
 * the setup failed. */
enum intc_mode intc_init(bool prefer_xive);
/* Let this CPU take interrupts (CPPR to "everything"). */
void intc_cpu_enable(void);
void intc_cpu_disable(void);
void intc_send_ipi(int cpu_idx);
/* Route a device interrupt to cpus[idx] and unmask it; returns 0 or the
 * failing RTAS status / hcall rc. */
long intc_route(uint32_t irq, int cpu_idx);
/* Next pending source on this CPU (an IRQ number or INTC_SRC_IPI), 0 when
 * nothing is left (then this CPU's priority is lowered again). */
uint32_t intc_next(void);
void intc_eoi(uint32_t src);
/* An external-interrupt handler that fetches every pending source, calls
 * cb(src) for each, and EOIs it. */
typedef void (*intc_cb_t)(uint32_t src);
void intc_set_callback(intc_cb_t cb);	/* for this CPU */

#endif
