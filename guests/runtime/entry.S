/*
 * Entry points, interrupt vectors and the interrupt save/restore path.
 *
 * The image is linked at 0 as a position-independent executable and the
 * machine loads it at 0x400000 + p_vaddr without relocating it, so
 * everything here finds addresses relative to the TOC (r2), which is
 * itself computed from the program counter.  r13 always holds this CPU's
 * struct cpu; the interrupt stubs rely on it because they run from a copy
 * at real address 0x100.. where PC-relative addressing means nothing.
 */
#include "layout.h"

	.abiversion 2

	.section .text.entry, "ax"
	.globl	_start
_start:
	.incbin	FIXUP_ENDIAN_BIN
	/* Little-endian and 64-bit from here.  r3 = device tree. */
	bcl	20, 31, 0f
0:	mflr	%r12
	addis	%r2, %r12, (.TOC. - 0b)@ha
	addi	%r2, %r2, (.TOC. - 0b)@l
	addis	%r1, %r2, boot_stack_top@toc@ha
	addi	%r1, %r1, boot_stack_top@toc@l
	li	%r0, 0
	stdu	%r0, -32(%r1)		/* end of the back chain */
	addis	%r4, %r2, __image_start@toc@ha
	addi	%r4, %r4, __image_start@toc@l
	bl	boot_main		/* (fdt, load address); never returns */
	nop
	b	.

/*
 * RTAS start-cpu enters here, big-endian again, with r3 = struct cpu of the
 * new CPU (filled in by smp_start).
 */
	.globl	secondary_entry
secondary_entry:
	.incbin	FIXUP_ENDIAN_BIN
	mr	%r13, %r3
	ld	%r2, CPU_TOC(%r13)
	ld	%r1, CPU_STACK(%r13)
	li	%r0, 0
	stdu	%r0, -32(%r1)
	bl	secondary_main		/* (struct cpu *); never returns */
	nop
	b	.

/*
 * Interrupt vectors: one stub per 0x80-byte slot from 0x100 to 0xf80.  A
 * stub saves r0 and LR in a new frame below the red zone and jumps to
 * exc_common through the address kept in struct cpu.
 */
	.macro	VECTOR nr
	.balign	0x80
	stdu	%r1, -(FRAME_SIZE + RED_ZONE)(%r1)
	std	%r0, FRAME_GPR + 0(%r1)
	mflr	%r0
	std	%r0, FRAME_LR(%r1)
	li	%r0, \nr
	std	%r0, FRAME_VEC(%r1)
	ld	%r0, CPU_EXC_ENTRY(%r13)
	mtlr	%r0
	blr
	.endm

	.section .text.vectors, "ax"
	.balign	0x80
	.globl	vectors_start, vectors_end
vectors_start:
	.set	vec, VECTORS_BASE
	.rept	(VECTORS_END - VECTORS_BASE) / 0x80
	VECTOR	vec
	.set	vec, vec + 0x80
	.endr
vectors_end:

	.text
	.globl	exc_common
exc_common:
	std	%r2, FRAME_GPR + 16(%r1)
	std	%r3, FRAME_GPR + 24(%r1)
	std	%r4, FRAME_GPR + 32(%r1)
	std	%r5, FRAME_GPR + 40(%r1)
	std	%r6, FRAME_GPR + 48(%r1)
	std	%r7, FRAME_GPR + 56(%r1)
	std	%r8, FRAME_GPR + 64(%r1)
	std	%r9, FRAME_GPR + 72(%r1)
	std	%r10, FRAME_GPR + 80(%r1)
	std	%r11, FRAME_GPR + 88(%r1)
	std	%r12, FRAME_GPR + 96(%r1)
	addi	%r3, %r1, FRAME_SIZE + RED_ZONE
	std	%r3, FRAME_GPR + 8(%r1)		/* r1 as it was */
	mfctr	%r3
	std	%r3, FRAME_CTR(%r1)
	mfxer	%r3
	std	%r3, FRAME_XER(%r1)
	mfcr	%r3
	std	%r3, FRAME_CR(%r1)
	mfsrr0	%r3
	std	%r3, FRAME_SRR0(%r1)
	mfsrr1	%r3
	std	%r3, FRAME_SRR1(%r1)
	ld	%r2, CPU_TOC(%r13)
	mr	%r3, %r1
	bl	exception_dispatch	/* (struct frame *) */
	nop
	ld	%r3, FRAME_SRR0(%r1)
	mtsrr0	%r3
	ld	%r3, FRAME_SRR1(%r1)
	mtsrr1	%r3
	ld	%r3, FRAME_CTR(%r1)
	mtctr	%r3
	ld	%r3, FRAME_XER(%r1)
	mtxer	%r3
	ld	%r3, FRAME_CR(%r1)
	mtcrf	0xff, %r3
	ld	%r3, FRAME_LR(%r1)
	mtlr	%r3
	ld	%r0, FRAME_GPR + 0(%r1)
	ld	%r2, FRAME_GPR + 16(%r1)
	ld	%r3, FRAME_GPR + 24(%r1)
	ld	%r4, FRAME_GPR + 32(%r1)
	ld	%r5, FRAME_GPR + 40(%r1)
	ld	%r6, FRAME_GPR + 48(%r1)
	ld	%r7, FRAME_GPR + 56(%r1)
	ld	%r8, FRAME_GPR + 64(%r1)
	ld	%r9, FRAME_GPR + 72(%r1)
	ld	%r10, FRAME_GPR + 80(%r1)
	ld	%r11, FRAME_GPR + 88(%r1)
	ld	%r12, FRAME_GPR + 96(%r1)
	ld	%r1, FRAME_GPR + 8(%r1)
	rfid

	.section .note.GNU-stack, "", @progbits
