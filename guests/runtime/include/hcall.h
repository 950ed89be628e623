/* Hypervisor calls (sc 1): numbers, return codes and the call itself. */
#ifndef GUEST_HCALL_H
#define GUEST_HCALL_H

#include <stdint.h>

#define H_SUCCESS		0
#define H_BUSY			1
#define H_HARDWARE		(-1)
#define H_FUNCTION		(-2)
#define H_PRIVILEGE		(-3)
#define H_PARAMETER		(-4)
#define H_P2			(-55)
#define H_P3			(-56)
#define H_P4			(-57)
#define H_P5			(-58)
#define H_MULTI_THREADS_ACTIVE	(-9005)

#define H_GET_TERM_CHAR		0x54
#define H_PUT_TERM_CHAR		0x58
#define H_EOI			0x64
#define H_CPPR			0x68
#define H_IPI			0x6c
#define H_IPOLL			0x70
#define H_XIRR			0x74
#define H_CEDE			0xe0
#define H_VIO_SIGNAL		0x104
#define H_XIRR_X		0x2fc
#define H_SET_MODE		0x31c
#define H_REGISTER_PROC_TBL	0x37c
#define H_INT_GET_SOURCE_INFO	0x3a8
#define H_INT_SET_SOURCE_CONFIG	0x3ac
#define H_INT_GET_SOURCE_CONFIG	0x3b0
#define H_INT_GET_QUEUE_INFO	0x3b4
#define H_INT_SET_QUEUE_CONFIG	0x3b8
#define H_INT_GET_QUEUE_CONFIG	0x3bc
#define H_INT_ESB		0x3c8
#define H_INT_SYNC		0x3cc
#define H_INT_RESET		0x3d0
#define H_RTAS			0xf000
#define H_CAS			0xf002	/* KVMPPC_H_CAS, QEMU's private CAS call */

/*
 * Up to 8 arguments in r4..r11; r4..r7 come back in out[0..3] when out is
 * not NULL.  The hypervisor may change r0 and r4..r12, CTR, XER and the
 * volatile CR fields.
 */
static inline long hcall8(uint64_t op, uint64_t *out, uint64_t a1, uint64_t a2,
			  uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
			  uint64_t a7, uint64_t a8)
{
	register uint64_t r3 asm("r3") = op;
	register uint64_t r4 asm("r4") = a1;
	register uint64_t r5 asm("r5") = a2;
	register uint64_t r6 asm("r6") = a3;
	register uint64_t r7 asm("r7") = a4;
	register uint64_t r8 asm("r8") = a5;
	register uint64_t r9 asm("r9") = a6;
	register uint64_t r10 asm("r10") = a7;
	register uint64_t r11 asm("r11") = a8;

	asm volatile("sc 1"
		     : "+r"(r3), "+r"(r4), "+r"(r5), "+r"(r6), "+r"(r7),
		       "+r"(r8), "+r"(r9), "+r"(r10), "+r"(r11)
		     :
		     : "r0", "r12", "ctr", "xer", "cr0", "cr1", "cr5", "cr6",
		       "cr7", "memory");
	if (out) {
		out[0] = r4;
		out[1] = r5;
		out[2] = r6;
		out[3] = r7;
	}
	return (long)r3;
}

#define hcall(op, ...) hcall_n(op, 0, ##__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0, 0)
#define hcall_ret(op, out, ...) hcall_n(op, out, ##__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0, 0)
#define hcall_n(op, out, a1, a2, a3, a4, a5, a6, a7, a8, ...) \
	hcall8(op, out, a1, a2, a3, a4, a5, a6, a7, a8)

/* Name of a return code for messages ("H_P2"), or NULL. */
const char *hcall_rc_name(long rc);

#endif
