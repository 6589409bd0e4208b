/* Fleet prevalence: which executables (by SHA-256, else path) and which parent -> child process
 * pairs the fleet has already run. The first time either is seen anywhere, after a learning
 * period that builds the baseline, it becomes a low-severity alert: a binary never seen before
 * in the fleet, a parent->child pair never seen before (web server -> shell, office tool ->
 * interpreter). Known keys live in memory (64-bit hashes) and in the store, so a restart or
 * another node does not forget them. */
#ifndef MAMORI_PREVALENCE_H
#define MAMORI_PREVALENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"

struct prevalence;
struct store;

/* Loads known keys from st (borrowed for the call). learning_s: seconds after the baseline
 * started during which new keys are recorded silently. Caller owns the result. NULL + errno. */
struct prevalence *prevalence_new(struct store *st, uint64_t learning_s);
void prevalence_free(struct prevalence *p);

enum prevalence_kind { PREVALENCE_BINARY, PREVALENCE_PAIR };

/* Records key (kind, text) seen at now_ns; true when it is new to the fleet and the learning
 * period is over (raise an alert). Thread-safe. New keys are queued for the store. */
bool prevalence_check(struct prevalence *p, enum prevalence_kind kind, const char *key,
		      size_t len, uint64_t now_ns);
/* Writes queued keys (call from a thread with its own store connection). 0 or negative errno. */
int prevalence_flush(struct prevalence *p, struct store *st);
const struct detect_rule_meta *prevalence_rule(enum prevalence_kind kind);
uint64_t prevalence_known(struct prevalence *p);

#endif
