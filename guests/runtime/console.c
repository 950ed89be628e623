/*
 * Console on the vty through H_PUT_TERM_CHAR / H_GET_TERM_CHAR.
 *
 * Output is sent up to 16 characters per call (two registers of
 * big-endian packed bytes).  A lock keeps whole printf calls from
 * different CPUs apart.  Input is polled; the vty's interrupt, if a
 * program wants it, is enabled with H_VIO_SIGNAL by the program.
 */
#include "guest.h"

uint32_t console_vterm;
uint32_t console_irq;

static volatile uint32_t lock;
static char inbuf[16];
static int in_head, in_len;

static void spin_lock(volatile uint32_t *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (*l)
			cpu_relax();
}

static void spin_unlock(volatile uint32_t *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

static uint64_t pack(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | (i < n ? (unsigned char)s[i] : 0);
	return v;
}

void console_write(const char *s, size_t len)
{
	uint64_t ee = irq_save();

	spin_lock(&lock);
	while (len) {
		size_t n = len > 16 ? 16 : len;
		long rc = hcall(H_PUT_TERM_CHAR, console_vterm, n, pack(s, n),
				n > 8 ? pack(s + 8, n - 8) : 0);

		if (rc == H_BUSY)
			continue;
		/* Any other failure: nowhere to report it, drop the text. */
		s += n;
		len -= n;
	}
	spin_unlock(&lock);
	irq_restore(ee);
}

int console_getc(void)
{
	uint64_t ee = irq_save();
	int c = -1;

	spin_lock(&lock);
	if (!in_len) {
		uint64_t out[4];

		if (hcall_ret(H_GET_TERM_CHAR, out, console_vterm) == H_SUCCESS &&
		    out[0]) {
			int i, n = out[0] > 16 ? 16 : (int)out[0];

			for (i = 0; i < n; i++)
				inbuf[i] = (char)(out[1 + i / 8] >> (56 - 8 * (i % 8)));
			in_head = 0;
			in_len = n;
		}
	}
	if (in_len) {
		c = (unsigned char)inbuf[in_head++];
		in_len--;
	}
	spin_unlock(&lock);
	irq_restore(ee);
	return c;
}

/* Find the vty: /chosen/stdout-path if it names one, else the first
 * "hvterm1" node.  vterm 0 (QEMU's "default") is the fallback. */
void console_init(void)
{
	int node = -1, len;
	const char *path = fdt_prop(fdt_path("/chosen"), "stdout-path", &len);
	uint32_t v;

	if (path)
		node = fdt_path(path);
	if (node < 0)
		node = fdt_find_compatible(0, "hvterm1");
	if (node < 0)
		return;
	if (fdt_prop_u32(node, "reg", 0, &v))
		console_vterm = v;
	if (fdt_prop_u32(node, "interrupts", 0, &v))
		console_irq = v;
}
