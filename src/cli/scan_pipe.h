/* The reading half of mamori scan: splits a file into lines and parses each into a detect_doc of
 * its own, then runs a prep step on it (the part of matching that does not depend on the order of
 * events), on worker threads when asked, handing lines over in batches and in file order to the
 * calling thread, which does the rest (whose state depends on event order). */
#ifndef MAMORI_SCAN_PIPE_H
#define MAMORI_SCAN_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct detect_doc;
struct detect_fields;
struct scan_pipe;

/* Longer lines are skipped and reported (they are never held in memory whole from a pipe). */
#define SCAN_PIPE_MAX_LINE (1u << 20)
/* Upper bound for the --threads option. */
#define SCAN_PIPE_MAX_THREADS 8u
/* Room for the prep step's result per line. */
#define SCAN_PIPE_SEL 32u

enum scan_pipe_line_kind {
	SCAN_PIPE_LINE_BLANK,	 /* nothing but white space */
	SCAN_PIPE_LINE_TOO_LONG, /* longer than SCAN_PIPE_MAX_LINE: line is NULL */
	SCAN_PIPE_LINE_BAD,	 /* not parsed: err says why */
	SCAN_PIPE_LINE_EVENT,	 /* parsed into doc */
};

/* One line of input. Everything is borrowed until the callback returns. */
struct scan_pipe_line {
	struct detect_doc *doc; /* filled for SCAN_PIPE_LINE_EVENT; the callback may match it */
	const char *line;	/* trimmed of surrounding white space, not NUL-terminated */
	size_t len;
	uint64_t line_no; /* 1-based within the file */
	size_t bytes;	  /* bytes the line took in the file, newline included */
	enum scan_pipe_line_kind kind;
	bool is_json; /* an ECS JSON object rather than an auditd record */
	/* The prep step's result: sel[0, nsel) (for mamori scan, the rules that matched); -1 when
	 * there is none (no prep step, not an event, or more than SCAN_PIPE_SEL). */
	int nsel;
	uint32_t sel[SCAN_PIPE_SEL];
	char err[128];
};

/* Called once per parsed line, on whichever thread parsed it, with that thread's state. */
typedef void (*scan_pipe_prep_fn)(void *state, struct scan_pipe_line *line);

/* Called on the thread that called scan_pipe_run, once per line in file order; nonzero stops. */
typedef int (*scan_pipe_fn)(void *ctx, const struct scan_pipe_line *line);

/* threads: 1 parses on the calling thread; 2 to SCAN_PIPE_MAX_THREADS on that many worker
 * threads, each taking the next batch of lines. fields (borrowed, must outlive the pipe) is the
 * engine's field table. prep (may be NULL) runs on each parsed line with states[i] on worker i
 * (states[0] when inline); states has threads entries, borrowed. Caller owns the result. NULL +
 * errno. */
struct scan_pipe *scan_pipe_new(const struct detect_fields *fields, unsigned threads,
				scan_pipe_prep_fn prep, void *const *states);
void scan_pipe_free(struct scan_pipe *p);
/* Reads fd (mapped when it is a regular file, else in blocks) to its end, or until fn stops.
 * Returns 0, or a negative errno when reading failed (after fn has seen every line before). */
int scan_pipe_run(struct scan_pipe *p, int fd, scan_pipe_fn fn, void *ctx);

#endif
