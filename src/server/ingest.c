#include "ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch_codec.h"
#include "detection.h"
#include "ingest_doc.h"
#include "log.h"
#include "wire.h"

#include "banned.h"

#define INGEST_MAX_PAST_NS (5ll * 366 * 86400 * 1000000000ll)
#define INGEST_MAX_FUTURE_NS (86400ll * 1000000000ll)

static int64_t ingest_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

void ingest_init(struct ingest *in, struct store *store)
{
	memset(in, 0, sizeof(*in));
	in->store = store;
	dynbuf_init(&in->plain, WIRE_MAX_BATCH);
	alert_intake_init(&in->alerts);
}

void ingest_release(struct ingest *in)
{
	dynbuf_release(&in->plain);
	alert_intake_release(&in->alerts);
	free(in->arena);
	free(in->rows);
	memset(in, 0, sizeof(*in));
}

static int reserve(struct ingest *in, size_t text_len, size_t lines)
{
	size_t need = text_len + 32 * lines + 64;

	if (need > in->arena_size) {
		char *a = realloc(in->arena, need);

		if (!a)
			return -ENOMEM;
		in->arena = a;
		in->arena_size = need;
	}
	if (lines > in->rows_alloc) {
		struct store_event_row *r = realloc(in->rows, lines * sizeof(*r));

		if (!r)
			return -ENOMEM;
		in->rows = r;
		in->rows_alloc = lines;
	}
	return 0;
}

static json_t *field(json_t *doc, const char *dotted)
{
	char key[64];
	const char *p = dotted, *dot;

	while (doc && (dot = strchr(p, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - p), p);
		doc = json_object_get(doc, key);
		p = dot + 1;
	}
	return doc ? json_object_get(doc, p) : NULL;
}

/* What automatic responses and exclusions need of each alert, for the loop thread. */
static json_t *summaries(const struct store_alert_row *rows, size_t n)
{
	/* from_event: a field the alert lacks is taken from its triggering event. Only the
	 * hashes: alerts from agents older than the alert's hash fields carry them only there. */
	static const struct {
		const char *key, *path;
		bool from_event;
	} fields[] = {
	    {"pid", "process.pid", false},
	    {"executable", "process.executable", false},
	    {"command_line", "process.command_line", false},
	    {"file_path", "file.path", false},
	    {"process_sha256", "process.hash.sha256", true},
	    {"file_sha256", "file.hash.sha256", true},
	};
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++) {
		json_t *doc = rows[i].doc ? json_loadb(rows[i].doc, rows[i].doc_len, 0, NULL) : NULL;
		json_t *o = json_pack("{s:s?,s:s?,s:s?,s:i,s:s?,s:s?,s:s?,s:s?}", "id", rows[i].id,
				      "rule_id", rows[i].rule_id, "rule_name", rows[i].rule_name,
				      "severity", rows[i].severity, "entity_id", rows[i].entity_id,
				      "host", rows[i].host, "tactics", rows[i].tactics,
				      "techniques", rows[i].techniques);

		json_t *first = json_array_get(field(doc, "mamori.events"), 0);

		for (size_t k = 0; o && doc && k < sizeof(fields) / sizeof(fields[0]); k++) {
			json_t *v = field(doc, fields[k].path);

			if (!v && fields[k].from_event && json_is_object(first))
				v = field(first, fields[k].path);
			if (json_is_string(v) || json_is_integer(v))
				json_object_set(o, fields[k].key, v);
		}
		if (o)
			json_array_append_new(arr, o);
		json_decref(doc);
	}
	return arr;
}

int ingest_batch(struct ingest *in, const char *agent_id, uint64_t epoch, uint64_t seq,
		 const void *body, size_t len, bool zstd, struct ingest_result *res)
{
	const char *text;
	size_t text_len, lines = 0, n = 0, i, lineno = 0;
	int64_t now = ingest_now_ns();
	char *arena;
	int rc;

	memset(res, 0, sizeof(*res));
	if (zstd) {
		dynbuf_reset(&in->plain);
		rc = batch_decompress(body, len, WIRE_MAX_BATCH, &in->plain);
		if (rc)
			return rc;
		text = in->plain.data ? in->plain.data : "";
		text_len = in->plain.len;
	} else {
		if (len > WIRE_MAX_BATCH)
			return -E2BIG;
		text = body;
		text_len = len;
	}
	for (const char *c = text, *end = text + text_len;
	     (c = memchr(c, '\n', (size_t)(end - c))) != NULL; c++)
		lines++;
	lines++;
	rc = reserve(in, text_len, lines);
	if (rc)
		return rc;
	arena = in->arena;
	alert_intake_reset(&in->alerts);
	for (i = 0; i < text_len;) {
		const char *nl = memchr(text + i, '\n', text_len - i);
		size_t ll = nl ? (size_t)(nl - (text + i)) : text_len - i;
		char err[120];

		lineno++;
		if (ll && text[i + ll - 1] == '\r')
			ll--;
		if (ll > 0) {
			int prc = ingest_doc_parse(text + i, ll, &in->rows[n], &arena, err,
						   sizeof(err));

			/* Stored events are partitioned by day: a clock far off (or a hostile agent)
			 * must not create partitions for arbitrary days. */
			if (prc == 0 && (in->rows[n].ts < now - INGEST_MAX_PAST_NS ||
					 in->rows[n].ts > now + INGEST_MAX_FUTURE_NS)) {
				snprintf(err, sizeof(err), "@timestamp outside the accepted window");
				prc = -ERANGE;
			}
			/* Alerts the agent raised go to the alerts table, not among events. */
			if (prc == 0 && in->rows[n].kind && !strcmp(in->rows[n].kind, "alert"))
				prc = alert_intake_add(&in->alerts, agent_id, &in->rows[n], err,
						       sizeof(err)) == 0
					  ? 1
					  : -EINVAL;
			if (prc == 0) {
				n++;
			} else if (prc == 1) {
				/* kept as an alert */
			} else {
				if (!res->rejected)
					snprintf(res->first_error, sizeof(res->first_error),
						 "line %zu: %s", lineno, err);
				res->rejected++;
			}
		}
		i += (nl ? (size_t)(nl - (text + i)) + 1 : text_len - i);
	}
	if (in->det && n) {
		const struct store_alert_row *alerts = NULL;
		size_t nalerts = 0;
		int drc = detection_worker_eval(in->det, agent_id, in->rows, n, &alerts, &nalerts);
		if (drc)
			log_warn("detect", "evaluation incomplete agent=%s err=%s", agent_id,
				 strerror(-drc));
		if (alert_intake_append(&in->alerts, alerts, nalerts))
			log_warn("detect", "alerts dropped: out of memory agent=%s", agent_id);
	}
	size_t nalerts = in->alerts.n;
	{
		struct store_event_text src = {text, text_len, zstd ? body : NULL, zstd ? len : 0};

		rc = store_ingest_batch(in->store, agent_id, epoch, seq, in->rows, n, &src,
					in->alerts.rows, nalerts, &res->duplicate);
	}
	if (rc)
		return rc;
	if (!res->duplicate && in->det)
		detection_worker_after_commit(in->det, in->store);
	if (!res->duplicate) {
		res->stored = n;
		res->alerts = nalerts;
		if (in->summaries && nalerts)
			res->alert_summaries = summaries(in->alerts.rows, nalerts);
		if (in->on_doc)
			for (i = 0; i < n; i++)
				in->on_doc(in->on_doc_ctx, agent_id, &in->rows[i]);
	} else {
		res->rejected = 0;
	}
	return 0;
}
