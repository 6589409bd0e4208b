/* The literals a Sigma rule needs, for the engine's prefilter (detect_engine.c): from the
 * rule's condition, a set of (field, literal) pairs one of which every matching event holds,
 * chosen among the condition's operands by how rare each looks; and, for a rule whose set is
 * common, a second such set from another operand (its gate). Pure analysis, no I/O. */
#ifndef MAMORI_ATOMSET_H
#define MAMORI_ATOMSET_H

#include <stdbool.h>
#include <stdint.h>

#include "sigma_int.h"

/* A set with more literals than this counts as none (the rule is evaluated on every event). */
#define ATOMSET_MAX 512

/* Literals are borrowed from the rule; src is the matcher each came from (the engine marks it
 * so that evaluation can rule it out when the scan did not see the literal). */
struct atomset {
	struct {
		uint32_t field; /* or FM_KEYWORD */
		const char *lit;
		uint32_t len;
		struct vmatch *src;
	} * v;
	unsigned n, cap;
	bool none; /* no literal can be required */
};

/* Frees s's storage; s is empty and reusable after. */
void atomset_release(struct atomset *s);
/* out (zeroed or reused) becomes the set rule det needs: its most selective set, out->none when
 * it has none. 0 or -ENOMEM. */
int atomset_of_rule(struct atomset *out, const struct detection *det);
/* out becomes the gate of a rule det whose set is s1: another set det needs, of cheap literals,
 * when s1 is common; empty (n 0) otherwise. 0 or -ENOMEM. */
int atomset_gate(struct atomset *out, const struct detection *det, const struct atomset *s1);
/* Where in a value the literal of matcher m on field must be (enum litscan_where). */
uint8_t atomset_where(uint32_t field, const struct vmatch *m);

#endif
