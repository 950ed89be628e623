/*
 * RTAS through the H_RTAS hypercall: the argument buffer (big-endian
 * cells: token, nargs, nret, args..., rets...) is passed by its real
 * address in r4.  Tokens are looked up by name in /rtas, so nothing
 * depends on the numbers a machine chose.  Each CPU has its own buffer.
 */
#include "guest.h"

int rtas_token(const char *name)
{
	uint32_t v;

	if (!fdt_prop_u32(fdt_path("/rtas"), name, 0, &v))
		return RTAS_NO_TOKEN;
	return (int)v;
}

int rtas_call(const char *name, int nargs, int nret, uint32_t *rets, ...)
{
	struct cpu *c = this_cpu();
	uint32_t *b = c->rtas_buf;
	int token = rtas_token(name), i;
	va_list ap;

	if (token == RTAS_NO_TOKEN)
		return RTAS_NO_TOKEN;
	if (nargs + nret > 16 || nret < 1)
		abort_msg("rtas_call(%s): %d args, %d rets do not fit", name, nargs, nret);
	b[0] = __builtin_bswap32(token);
	b[1] = __builtin_bswap32(nargs);
	b[2] = __builtin_bswap32(nret);
	va_start(ap, rets);
	for (i = 0; i < nargs; i++)
		b[3 + i] = __builtin_bswap32(va_arg(ap, uint32_t));
	va_end(ap);
	for (i = 0; i < nret; i++)
		b[3 + nargs + i] = __builtin_bswap32(0xdeadbeef);
	c->rtas_rc = hcall(H_RTAS, (uint64_t)b);
	for (i = 1; i < nret && rets; i++)
		rets[i - 1] = __builtin_bswap32(b[3 + nargs + i]);
	return (int)__builtin_bswap32(b[3 + nargs]);
}

long rtas_last_hcall_rc(void)
{
	return this_cpu()->rtas_rc;
}
