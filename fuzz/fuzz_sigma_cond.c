/* Sigma condition parser: any text parses into a tree that evaluates, or fails with a message;
 * deep nesting and huge "of" expansions stay bounded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigma_int.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const NAMES[] = {"selection", "selection_img", "selection_cli", "filter_main",
				    "filter_optional_x", "keywords", "_hidden", "a", "b"};
#define NID (sizeof(NAMES) / sizeof(NAMES[0]))

static bool eval(const struct detection *d, uint16_t n, unsigned depth, uint32_t truth)
{
	if (depth > 200 || n >= d->nnodes)
		abort(); /* the parser bounds depth and only links existing nodes */
	const struct cnode *c = &d->nodes[n];
	switch (c->kind) {
	case CN_IDENT: return (truth >> c->first) & 1;
	case CN_AND: return eval(d, c->a, depth + 1, truth) && eval(d, c->b, depth + 1, truth);
	case CN_OR: return eval(d, c->a, depth + 1, truth) || eval(d, c->b, depth + 1, truth);
	case CN_NOT: return !eval(d, c->a, depth + 1, truth);
	case CN_ONE_OF:
	case CN_ALL_OF:
		if (c->first + c->count > d->nrefs)
			abort();
		for (uint32_t i = 0; i < c->count; i++)
			if (d->refs[c->first + i] >= d->nidents)
				abort();
		return true;
	default: return true;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct ident idents[NID];
	struct detection det = {.nidents = NID, .idents = idents};
	struct sigma_err err = {{0}};
	const char *conds[2];
	size_t lens[2];
	size_t nc = 1;

	memset(idents, 0, sizeof(idents));
	for (size_t i = 0; i < NID; i++)
		idents[i].name = NAMES[i];
	arena_init(&a);
	/* A NUL splits the input into two conditions (the list form). */
	const char *nul = memchr(data, 0, size);
	conds[0] = (const char *)data;
	lens[0] = nul ? (size_t)(nul - (const char *)data) : size;
	if (nul) {
		conds[1] = nul + 1;
		lens[1] = size - lens[0] - 1;
		nc = 2;
	}
	if (sigma_cond_parse(&a, &det, conds, lens, nc, &err) == 0) {
		eval(&det, det.root, 0, 0x5a);
		eval(&det, det.root, 0, 0xa5);
	} else if (!err.msg[0]) {
		abort();
	}
	arena_release(&a);
	return 0;
}
