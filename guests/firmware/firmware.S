/*
 * pseries-rs boot firmware.
 *
 * The machine loads this image at guest address 0 (-bios) and starts CPU 0
 * at 0x100 in big-endian real mode with MSR as QEMU 7.2 resets it (SF=0)
 * and r3 = the flattened device tree.  The only job is to enter the kernel
 * that -kernel placed at 0x400000, with r3 untouched: the kernel finds
 * everything else (RTAS tokens, console, CPUs) in the device tree.
 *
 * Until the kernel installs its own vectors, any interrupt lands in this
 * image; rather than executing zeros (which would loop through 0x700
 * silently) each vector prints which one fired.  Output goes through
 * H_PUT_TERM_CHAR with vterm 0, the default console, because this code
 * knows nothing of the device tree.
 *
 * Assembled big-endian (as -mbig) and copied out with objcopy -O binary:
 * the image is position-dependent on purpose (linked and run at 0) but
 * uses only PC-relative references, so the object needs no relocation.
 */

	.set	KERNEL_BASE, 0x400000
	.set	H_PUT_TERM_CHAR, 0x58

	.section .text, "ax"
	.org	0x100
reset:
	/* An empty kernel slot reads as zeros: say so instead of taking a
	 * program interrupt on the first word. */
	lis	%r4, KERNEL_BASE@h
	lwz	%r5, 0(%r4)
	cmpwi	%r5, 0
	beq	no_kernel
	mtctr	%r4
	bctr

	/* One stub per architected vector after 0x100, 0x80 bytes apart. */
	.set	vec, 0x200
	.rept	(0x1000 - 0x200) / 0x80
	.org	vec
	li	%r4, vec
	b	unexpected
	.set	vec, vec + 0x80
	.endr

	.org	0x1000
no_kernel:
	bcl	20, 31, 1f
1:	mflr	%r20
	addi	%r20, %r20, msg_nokernel - 1b
	bl	puts
	b	halt

/* r4 = vector number */
unexpected:
	mr	%r21, %r4
	bcl	20, 31, 1f
1:	mflr	%r20
	addi	%r20, %r20, msg_unexpected - 1b
	bl	puts
	/* Three hex digits are enough for every vector below 0x1000. */
	li	%r22, 8
2:	srd	%r23, %r21, %r22
	andi.	%r23, %r23, 0xf
	cmpwi	%r23, 10
	blt	3f
	addi	%r23, %r23, 'a' - '0' - 10
3:	addi	%r23, %r23, '0'
	bl	putc
	addic.	%r22, %r22, -4
	bge	2b
	li	%r23, '\n'
	bl	putc
	b	halt

/* Nothing can run after an error here; stop this CPU where a debugger
 * (or the harness timeout) will find it. */
halt:
	b	.

/* Print the NUL-terminated string at r20 (clobbers r3-r7, r20, r23). */
puts:
	mflr	%r24
1:	lbz	%r23, 0(%r20)
	cmpwi	%r23, 0
	beq	2f
	bl	putc
	addi	%r20, %r20, 1
	b	1b
2:	mtlr	%r24
	blr

/* Print the character in r23 (clobbers r3-r7). */
putc:
	li	%r3, H_PUT_TERM_CHAR
	li	%r4, 0			/* vterm 0: the default console */
	li	%r5, 1
	sldi	%r6, %r23, 56		/* characters are packed big-endian */
	li	%r7, 0
	sc	1
	blr

msg_nokernel:
	.asciz	"FIRMWARE: no kernel at 0x400000 (use -kernel)\n"
msg_unexpected:
	.asciz	"FIRMWARE: unexpected exception at vector 0x"
	.balign	4
