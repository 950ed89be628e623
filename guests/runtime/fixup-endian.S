/*
 * Big-endian prologue of every kernel entry point.
 *
 * The machine starts CPU 0 (through the firmware) and every CPU started
 * with RTAS start-cpu in big-endian mode, but the kernel is little-endian
 * code.  These twelve words are assembled big-endian on their own, turned
 * into raw bytes and included with .incbin at each entry point of the
 * little-endian image; they switch to little-endian, 64-bit mode with rfid
 * and continue right after themselves.  Only r0, r11 and r12 are
 * clobbered, so r3 (FDT or start-cpu argument) reaches the LE code intact.
 */
	.section .text, "ax"
start:
	/* Read big-endian these bytes are `addic r0,r0,0x48', harmless at
	 * entry.  Read little-endian they are `b .+0x30', so a CPU that is
	 * already little-endian skips the switch. */
	.long	0x30000048
	bcl	20, 31, 1f
1:	mflr	%r11
	addi	%r11, %r11, end - 1b	/* continue after this block */
	mfmsr	%r12
	ori	%r12, %r12, 0x1001	/* MSR[ME] | MSR[LE] */
	li	%r0, -1
	rldicr	%r0, %r0, 0, 0		/* MSR[SF], bit 0 */
	or	%r12, %r12, %r0
	mtsrr0	%r11
	mtsrr1	%r12
	rfid
end:
	.if	end - start != 0x30
	.error	"the LE branch in the first word must skip exactly this block"
	.endif
