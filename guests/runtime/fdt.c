/*
 * A small reader of flattened device trees (version 16/17): walking the
 * structure block, looking nodes up by path, compatible or device_type,
 * and reading properties.  A node is identified by the offset of its
 * FDT_BEGIN_NODE token in the structure block; -1 means "none".
 */
#include "guest.h"

#define FDT_MAGIC	0xd00dfeed
#define FDT_BEGIN_NODE	1
#define FDT_END_NODE	2
#define FDT_PROP	3
#define FDT_NOP		4
#define FDT_END		9

const void *fdt;

static const char *structs(void) { return (const char *)fdt + be32((const char *)fdt + 8); }
static const char *strings(void) { return (const char *)fdt + be32((const char *)fdt + 12); }
static uint32_t tok(int off) { return be32(structs() + off); }
static int align4(int x) { return (x + 3) & ~3; }

uint32_t fdt_boot_cpuid(void)
{
	return be32((const char *)fdt + 28);
}

const char *fdt_name(int node)
{
	return structs() + node + 4;
}

/* Offset just past the node's name: where its properties start. */
static int node_body(int node)
{
	return node + 4 + align4(strlen(fdt_name(node)) + 1);
}

/* Offset of the token after the property or NOP at off. */
static int skip_prop(int off)
{
	if (tok(off) == FDT_NOP)
		return off + 4;
	return off + 12 + align4(be32(structs() + off + 4));
}

/*
 * The node following `node` in document order, tracking depth (+1 into a
 * child, -n when leaving nodes); -1 at the end of the tree.
 */
int fdt_next_node(int node, int *depth)
{
	int off = node_body(node);

	for (;;) {
		switch (tok(off)) {
		case FDT_PROP:
		case FDT_NOP:
			off = skip_prop(off);
			break;
		case FDT_BEGIN_NODE:
			if (depth)
				(*depth)++;
			return off;
		case FDT_END_NODE:
			if (depth)
				(*depth)--;
			off += 4;
			break;
		default:
			return -1;
		}
	}
}

int fdt_first_child(int node)
{
	int depth = 0, n = fdt_next_node(node, &depth);

	return n >= 0 && depth == 1 ? n : -1;
}

int fdt_next_sibling(int node)
{
	int depth = 0, n = node;

	do {
		n = fdt_next_node(n, &depth);
		if (n < 0 || depth < 0)
			return -1;
	} while (depth != 0);
	return n;
}

/* A path component without a unit address ("vty") also matches a node
 * that has one ("vty@71000000"). */
static bool name_matches(const char *name, const char *comp, size_t len)
{
	size_t i;
	bool has_unit = false;

	for (i = 0; i < len; i++)
		has_unit |= comp[i] == '@';
	if (strncmp(name, comp, len))
		return false;
	return name[len] == 0 || (name[len] == '@' && !has_unit);
}

int fdt_path(const char *path)
{
	int node = 0;

	if (!path || *path != '/')
		return -1;
	while (*path) {
		const char *comp, *end;

		while (*path == '/')
			path++;
		if (!*path)
			break;
		comp = path;
		end = strchr(comp, '/');
		if (!end)
			end = comp + strlen(comp);
		for (node = fdt_first_child(node); node >= 0;
		     node = fdt_next_sibling(node))
			if (name_matches(fdt_name(node), comp, end - comp))
				break;
		if (node < 0)
			return -1;
		path = end;
	}
	return node;
}

const void *fdt_prop(int node, const char *name, int *len)
{
	int off;

	if (node < 0)
		return NULL;
	for (off = node_body(node); tok(off) == FDT_PROP || tok(off) == FDT_NOP;
	     off = skip_prop(off)) {
		if (tok(off) == FDT_NOP)
			continue;
		if (!strcmp(strings() + be32(structs() + off + 8), name)) {
			if (len)
				*len = be32(structs() + off + 4);
			return structs() + off + 12;
		}
	}
	return NULL;
}

bool fdt_prop_u32(int node, const char *name, int idx, uint32_t *val)
{
	int len;
	const char *p = fdt_prop(node, name, &len);

	if (!p || len < 4 * (idx + 1))
		return false;
	*val = be32(p + 4 * idx);
	return true;
}

/* Is `want` one of the NUL-separated strings of a string-list property? */
static bool strlist_has(const char *p, int len, const char *want)
{
	while (len > 0) {
		int n = strlen(p) + 1;

		if (!strcmp(p, want))
			return true;
		p += n;
		len -= n;
	}
	return false;
}

static int find_by(int from, const char *prop, const char *want)
{
	int node = from;

	while ((node = fdt_next_node(node, NULL)) >= 0) {
		int len;
		const char *p = fdt_prop(node, prop, &len);

		if (p && strlist_has(p, len, want))
			return node;
	}
	return -1;
}

/* The first node after `from` (0 = the root: search the whole tree). */
int fdt_find_compatible(int from, const char *compat)
{
	return find_by(from, "compatible", compat);
}

int fdt_find_device_type(int from, const char *type)
{
	return find_by(from, "device_type", type);
}

bool fdt_valid(const void *blob)
{
	uint32_t version = be32((const char *)blob + 20);

	return be32(blob) == FDT_MAGIC && version >= 16 &&
	       be32((const char *)blob + 4) >= 40;
}

void fdt_adopt(const void *blob)
{
	uint32_t size = be32((const char *)blob + 4);
	void *copy = alloc(size, 8);

	memcpy(copy, blob, size);
	fdt = copy;
}
