/*
 * ibm,client-architecture-support: negotiate each interrupt mode the
 * platform offers (XIVE, then XICS, then XIVE again when both are
 * offered, to switch both ways), and check after each call that the
 * returned device tree and the hcalls match the negotiated mode.  Also the
 * refusals that do not end the machine: CAS with another vCPU running,
 * and a vector table without option vector 5.
 *
 * -append invalid      asks for both modes at once (OV5 byte 23 = 0x80)
 * -append unavailable  asks for a mode the platform does not offer
 * QEMU ends the machine in both cases; the guest only says what it asks.
 */
#include "intc.h"

static volatile uint64_t spinning, release;

static bool has_xicp(void)
{
	return fdt_find_compatible(0, "IBM,ppc-xicp") >= 0 ||
	       fdt_find_compatible(0, "ibm,ppc-xicp") >= 0;
}

static bool has_ivpe(void)
{
	return fdt_find_compatible(0, "ibm,power-ivpe") >= 0;
}

static const char *rc_name(long rc)
{
	static char buf[24];
	const char *n = hcall_rc_name(rc);

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "%ld", rc);
	return buf;
}

static void negotiate(bool want_xive)
{
	const char *mode = want_xive ? "XIVE" : "XICS";
	long rc = cas_request(want_xive);
	int byte23;

	report(rc == H_SUCCESS, "CAS asking for %s: %s", mode, rc_name(rc));
	if (rc != H_SUCCESS)
		return;
	report_info("CAS buffer header bytes: %02x %02x %02x %02x", cas_header[0],
		    cas_header[1], cas_header[2], cas_header[3]);
	byte23 = cas_negotiated(OV5_INTC_BYTE);
	if (byte23 < 0) {
		int len = 0;

		fdt_prop(fdt_path("/chosen"), "ibm,architecture-vec-5", &len);
		report_info("negotiated ibm,architecture-vec-5: %d bytes, no byte 23", len);
		byte23 = 0;	/* what a guest must assume then */
	} else {
		report_info("negotiated ibm,architecture-vec-5 byte 23 = 0x%02x", byte23);
	}
	report((byte23 & 0xc0) == (want_xive ? OV5_XIVE_EXPLOIT : 0), "byte 23 says %s", mode);
	report(has_ivpe() == want_xive, "returned tree %s ibm,power-ivpe node",
	       want_xive ? "has an" : "has no");
	report(has_xicp() == !want_xive, "returned tree %s IBM,ppc-xicp node",
	       want_xive ? "has no" : "has an");
	report((fdt_prop(0, "ibm,plat-res-int-priorities", NULL) != NULL) == want_xive,
	       "ibm,plat-res-int-priorities %s", want_xive ? "present" : "absent");

	if (want_xive) {
		struct xive_source src;

		report(xive_probe(), "XIVE node readable (TIMA OS page 0x%lx, %u IPI LISNs)",
		       xive.tima_os, xive.ipi_count);
		rc = xive_source_info(xive.ipi_base, &src);
		report(rc == H_SUCCESS, "H_INT_GET_SOURCE_INFO works: %s", rc_name(rc));
		rc = hcall(H_CPPR, 0xff);
		report(rc != H_SUCCESS, "H_CPPR refused in XIVE mode");
		report_info("H_CPPR in XIVE mode returned %s", rc_name(rc));
	} else {
		rc = hcall(H_CPPR, 0xff);
		report(rc == H_SUCCESS, "H_CPPR works: %s", rc_name(rc));
		rc = hcall(H_INT_GET_SOURCE_INFO, 0, 0);
		report(rc == H_FUNCTION, "H_INT_GET_SOURCE_INFO refused in XICS mode: %s",
		       rc_name(rc));
		rc = hcall(H_CPPR, 0);
	}
}

static void spin(void *arg)
{
	(void)arg;
	spinning = 1;
	while (!release)
		cpu_relax();
}

static void with_other_cpu_running(void)
{
	long rc;

	if (nr_cpus < 2) {
		report_skip("CAS with two running vCPUs needs -smp 2");
		return;
	}
	release = 0;
	if (smp_start(1, spin, NULL) || !wait_nonzero(&spinning, tb_ms(5000))) {
		report(false, "could not start CPU %u", cpus[1].server);
		return;
	}
	rc = cas_request(cas_offers_xive());
	report(rc == H_MULTI_THREADS_ACTIVE, "CAS while CPU %u runs refused: %s",
	       cpus[1].server, rc_name(rc));
	release = 1;
	smp_wait_stopped(1, tb_ms(5000));
}

static void without_ov5(void)
{
	static uint32_t vec[8] __attribute__((aligned(8)));
	static uint8_t buf[4096] __attribute__((aligned(8)));
	uint8_t *p = (uint8_t *)&vec[4];
	long rc;

	vec[0] = 0xffffffff;
	vec[1] = __builtin_bswap32((uint32_t)mfspr(SPR_PVR));
	vec[2] = 0;
	vec[3] = 0xffffffff;
	p[0] = 1 - 1;		/* one option vector: OV1 */
	p[1] = 3 - 1;
	p[2] = 0;
	p[3] = 0;
	p[4] = 0x80;
	rc = hcall(H_CAS, (uint64_t)vec, (uint64_t)buf, sizeof(buf));
	report(rc == H_PARAMETER, "CAS without option vector 5 refused: %s", rc_name(rc));
}

int main(void)
{
	int i, len;
	const uint8_t *sup = fdt_prop(fdt_path("/chosen"), "ibm,arch-vec-5-platform-support", &len);
	char pairs[80] = "";
	int n = 0;

	for (i = 0; sup && i + 1 < len; i += 2)
		n += snprintf(pairs + n, sizeof(pairs) - n, " %u:0x%02x", sup[i], sup[i + 1]);
	report_info("ibm,arch-vec-5-platform-support (byte:value)%s", sup ? pairs : " absent");
	report_info("before CAS: ibm,architecture-vec-5 byte 23 %s",
		    cas_negotiated(OV5_INTC_BYTE) < 0 ? "absent (property shorter)" : "present");
	report_info("before CAS: tree has%s%s", has_xicp() ? " XICS" : "", has_ivpe() ? " XIVE" : "");
	report_info("platform offers:%s%s", cas_offers_xics() ? " XICS" : "",
		    cas_offers_xive() ? " XIVE" : "");

	if (bootarg("invalid")) {
		printf("INFO: asking for both interrupt modes (byte 23 = 0x80); the machine must refuse\n");
		report(false, "CAS with byte 23 = 0x80 returned %s", rc_name(cas_call(0x80, 0, 0)));
		return report_summary();
	}
	if (bootarg("unavailable")) {
		bool want_xive = !cas_offers_xive();

		printf("INFO: asking for %s, which the platform does not offer\n",
		       want_xive ? "XIVE" : "XICS");
		report(false, "CAS returned %s", rc_name(cas_request(want_xive)));
		return report_summary();
	}

	with_other_cpu_running();
	without_ov5();
	if (cas_offers_xive())
		negotiate(true);
	if (cas_offers_xics())
		negotiate(false);
	if (cas_offers_xive() && cas_offers_xics())
		negotiate(true);
	return report_summary();
}
