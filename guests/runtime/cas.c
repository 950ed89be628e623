/*
 * ibm,client-architecture-support through QEMU's KVMPPC_H_CAS hcall
 * (r4 = architecture vector, r5 = buffer, r6 = buffer size).  The vector
 * is what Linux's prom_init sends, reduced to what the machine reads: one
 * PVR entry (this CPU's own, so no compatibility mode is forced), then
 * option vectors 1 to 5 with OV1 "ISA 3.00" and OV5 bytes 23 (interrupt
 * controller), 24 (MMU) and 26 (radix extensions).  On success the
 * buffer holds a 4-byte header and the new device tree, which replaces
 * ours: the controller nodes in it are those of the negotiated mode.
 */
#include "intc.h"

#define CAS_BUF_SIZE	(1 << 20)
#define OV5_LEN		26

static uint8_t *cas_buf;
uint8_t cas_header[4];

/* The platform-support property exists only in the boot-time tree (the
 * tree CAS returns leaves it out), so it is read once, before any CAS. */
static uint8_t support[32];
static int support_len = -1;

static void snapshot_support(void)
{
	int len;
	const uint8_t *p;

	if (support_len >= 0)
		return;
	p = fdt_prop(fdt_path("/chosen"), "ibm,arch-vec-5-platform-support", &len);
	support_len = 0;
	if (p && len > 0) {
		support_len = len > (int)sizeof(support) ? (int)sizeof(support) : len;
		memcpy(support, p, support_len);
	}
}

int cas_platform_support(int index)
{
	int i;

	snapshot_support();
	for (i = 0; i + 1 < support_len; i += 2)
		if (support[i] == index)
			return support[i + 1];
	return -1;
}

/* Byte 23 of the platform support: 0x00 XICS only, 0x40 XIVE only, 0x80
 * either.  A machine that does not say supports XICS only. */
bool cas_offers_xics(void)
{
	int v = cas_platform_support(OV5_INTC_BYTE);

	return v < 0 || (v & 0xc0) == 0 || (v & 0xc0) == OV5_XIVE_EITHER;
}

bool cas_offers_xive(void)
{
	int v = cas_platform_support(OV5_INTC_BYTE);

	return v >= 0 && ((v & 0xc0) == OV5_XIVE_EXPLOIT || (v & 0xc0) == OV5_XIVE_EITHER);
}

/* Linux reads byte 23 only from a property of at least 24 bytes; a
 * shorter one means no bit of that byte was negotiated. */
int cas_negotiated(int n)
{
	int len;
	const uint8_t *p = fdt_prop(fdt_path("/chosen"), "ibm,architecture-vec-5", &len);

	if (!p || n >= len)
		return -1;
	return p[n];
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	*(uint32_t *)p = __builtin_bswap32(v);
	return p + 4;
}

long cas_call(uint8_t intc, uint8_t mmu, uint8_t radix_ext)
{
	static uint8_t vec[64] __attribute__((aligned(8)));
	uint8_t *p = vec;
	long rc;

	snapshot_support();
	if (!cas_buf)
		cas_buf = alloc(CAS_BUF_SIZE, 8);
	memset(vec, 0, sizeof(vec));
	p = put32(p, 0xffffffff);		/* PVR mask: exactly ... */
	p = put32(p, (uint32_t)mfspr(SPR_PVR));	/* ... this CPU */
	p = put32(p, 0);			/* terminator: value bits */
	p = put32(p, 0xffffffff);		/* outside the mask */
	*p++ = 5 - 1;				/* option vectors 1..5 */
	*p++ = 3 - 1;				/* OV1: 3 bytes */
	*p++ = 0;
	*p++ = 0;
	*p++ = 0x80;				/* byte 3: ISA 3.00 */
	*p++ = 0; *p++ = 0;			/* OV2: 1 byte, 0 */
	*p++ = 0; *p++ = 0;			/* OV3 */
	*p++ = 0; *p++ = 0;			/* OV4 */
	*p++ = OV5_LEN - 1;			/* OV5: bytes 1..26 */
	p[OV5_INTC_BYTE - 1] = intc;
	p[OV5_MMU_BYTE - 1] = mmu;
	p[OV5_RADIX_BYTE - 1] = radix_ext;

	memset(cas_buf, 0, 64);
	rc = hcall(H_CAS, (uint64_t)vec, (uint64_t)cas_buf, CAS_BUF_SIZE);
	if (rc == H_SUCCESS) {
		/* A 32-bit version header, then the tree. */
		memcpy(cas_header, cas_buf, 4);
		if (!fdt_valid(cas_buf + 4))
			abort_msg("CAS succeeded but returned no device tree");
		fdt_adopt(cas_buf + 4);
	}
	return rc;
}

long cas_request(bool xive)
{
	int mmu = cas_platform_support(OV5_MMU_BYTE);
	int radix = cas_platform_support(OV5_RADIX_BYTE);
	/* Radix when the platform offers it (0x40 radix only, 0x80 either,
	 * 0xc0 dynamic), hash otherwise; GTSE along with radix if offered. */
	bool want_radix = mmu > 0 && (mmu & 0xc0);

	return cas_call(xive ? OV5_XIVE_EXPLOIT : 0, want_radix ? 0x40 : 0,
			want_radix && radix > 0 ? (radix & 0x40) : 0);
}
