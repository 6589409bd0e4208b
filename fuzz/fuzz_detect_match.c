/* The matcher: any event text goes through the JSON adapter and every kind of value matcher
 * (literals, globs, regex, CIDR, numbers, dates, fieldref, keywords, encodings, correlation)
 * without crashing or reading outside the values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "detect_doc_json.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char RULES[] =
    "title: t1\nid: t1\nlogsource: {category: process_creation}\ndetection:\n"
    "  s1: {CommandLine|contains|all: ['curl', '| sh']}\n"
    "  s2: {Image|endswith: ['/nc', '/socat'], CommandLine|re|i: ' -e +/bin/(ba)?sh'}\n"
    "  s3: {CommandLine|base64offset|contains: 'bash -i'}\n"
    "  s4: {CommandLine|windash|contains: ' -exec '}\n"
    "  s5: {CommandLine: 'tar *c?f*'}\n"
    "  condition: 1 of s*\n"
    "---\ntitle: t2\nid: t2\nname: net\nlogsource: {category: network_connection}\ndetection:\n"
    "  s: {DestinationIp|cidr: ['10.0.0.0/8', 'fd00::/8'], DestinationPort|gte: 1024}\n"
    "  condition: s\n"
    "---\ntitle: t3\nid: t3\ndetection:\n"
    "  k: ['password', 'token=*']\n"
    "  r: {process.parent.executable|fieldref: process.executable}\n"
    "  d: {'@timestamp|hour|lt': 6}\n"
    "  n: {user.name: null}\n"
    "  e: {process.hash.sha256|exists: true}\n"
    "  w: {process.command_line|wide|base64offset|contains: 'cmd'}\n"
    "  condition: k or r or (d and not n) or e or w\n"
    "---\ntitle: c\nid: c\ncorrelation: {type: value_count, rules: [net], group-by: [SourceIp],"
    " timespan: 1m, condition: {field: DestinationPort, gte: 3}}\n";

static struct detect_engine *engine;
static struct detect_ctx *ctx;

static int on_hit(void *c, const struct detect_hit *hit)
{
	(void)c;
	if (!hit->rule || !hit->doc)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!engine) {
		engine = detect_engine_new();
		if (!engine || detect_engine_add_yaml(engine, "fuzz", RULES, sizeof(RULES) - 1) != 4 ||
		    detect_engine_finish(engine) != 0 || !(ctx = detect_ctx_new(engine)))
			abort();
	}
	char err[64];
	if (detect_doc_from_json(detect_ctx_doc(ctx), (const char *)data, size, err, sizeof(err)) ==
	    0)
		detect_ctx_match(ctx, on_hit, NULL);
	return 0;
}
