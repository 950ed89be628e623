/*
 * Offsets shared between the assembly entry code and C.  The C side
 * checks them with static assertions (runtime/cpu.c), so a change to
 * struct cpu or struct frame that forgets this file does not build.
 */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

/* struct cpu: the fields the vector stubs and entry code load via r13. */
#define CPU_TOC		0	/* r2 for C code */
#define CPU_EXC_ENTRY	8	/* address of exc_common */
#define CPU_STACK	16	/* initial stack pointer of a secondary */

/* struct frame: what an interrupt saves on the stack. */
#define FRAME_GPR	32	/* r0..r12, 8 bytes each (after the ABI header) */
#define FRAME_CTR	136
#define FRAME_LR	144
#define FRAME_XER	152
#define FRAME_CR	160
#define FRAME_SRR0	168
#define FRAME_SRR1	176
#define FRAME_VEC	184
#define FRAME_SIZE	192

/* ELFv2 lets leaf functions use 288 bytes below r1; an interrupt skips them. */
#define RED_ZONE	288

/* Interrupt vectors are copied to real address 0x100..0x1000. */
#define VECTORS_BASE	0x100
#define VECTORS_END	0x1000

#endif
