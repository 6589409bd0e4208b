/* mamori events: search stored events (GET /events) and show the process tree around one process
 * (GET /events/tree/{entity_id}). */
#include "cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_http.h"
#include "cli_json.h"
#include "cli_output.h"
#include "dynbuf.h"

#include "banned.h"

#define PATH_CAP (64u << 10)
#define CELL_CAP 4096
#define DEFAULT_SINCE "24h"
#define LIMIT_MAX 10000
#define TREE_CMDLINE_WIDTH 200
/* Levels past this are drawn at this indentation: a depth from the server is not trusted. */
#define TREE_MAX_INDENT 64

static const char usage_events[] =
    "usage: mamori events search QUERY [--since TIME] [--until TIME] [--limit N] [--count]\n"
    "                            [--output jsonl|table]\n"
    "       mamori events tree ENTITY_ID [--since TIME] [--output jsonl|table]\n";

static const char usage_search[] =
    "usage: mamori events search QUERY [--since TIME] [--until TIME] [--limit N] [--count]\n"
    "                            [--output jsonl|table]\n"
    "\n"
    "Searches stored events, newest first. QUERY is one argument (quote it); its syntax\n"
    "is in docs/search.md. TIME is 30s, 15m, 2h, 7d ago or an RFC 3339 time.\n"
    "table (default): TIME HOST ACTION PID TARGET COMMAND; jsonl: each event on one\n"
    "line as the server returns it.\n"
    "  -s, --since TIME      start of the window (default " DEFAULT_SINCE ")\n"
    "  -u, --until TIME      end of the window (default now)\n"
    "  -n, --limit N         at most N events, 1-10000 (server default 100)\n"
    "  -c, --count           print only the number of matching events\n"
    "  -o, --output FORMAT   jsonl or table\n";

static const char usage_tree[] =
    "usage: mamori events tree ENTITY_ID [--since TIME] [--output jsonl|table]\n"
    "\n"
    "Shows the ancestors of a process (root first), the process, then its\n"
    "descendants, indented by depth: 'pid executable command_line' per line.\n"
    "jsonl prints the same events in the same order, one per line.\n"
    "  -s, --since TIME      how far back to look (server default)\n"
    "  -o, --output FORMAT   jsonl or table\n";

static int search_path(struct dynbuf *path, const char *query, const char *since, const char *until,
		       const char *limit, bool count)
{
	int rc = dynbuf_adds(path, "/events");

	if (!rc)
		rc = cli_http_query_add(path, "q", query);
	if (!rc)
		rc = cli_http_query_add(path, "since", since);
	if (!rc && until)
		rc = cli_http_query_add(path, "until", until);
	if (!rc && limit)
		rc = cli_http_query_add(path, "limit", limit);
	if (!rc && count)
		rc = cli_http_query_add(path, "count", "1");
	return rc;
}

/* What the event is about: the file, else the peer, else the DNS name, else the executable. */
static int target_cell(const json_t *ev, struct dynbuf *b)
{
	const json_t *ip = cli_json_get(ev, "destination.ip");
	const json_t *port = cli_json_get(ev, "destination.port");
	const char *s = cli_json_get_string(ev, "file.path");
	int rc;

	if (s)
		return dynbuf_adds(b, s);
	if (json_is_string(ip)) {
		s = json_string_value(ip);
		rc = dynbuf_printf(b, strchr(s, ':') && port ? "[%s]" : "%s", s);
		if (!rc && port) {
			rc = dynbuf_addc(b, ':');
			if (!rc)
				rc = cli_json_format(port, b);
		}
		return rc;
	}
	s = cli_json_get_string(ev, "dns.question.name");
	if (s)
		return dynbuf_adds(b, s);
	return cli_json_format(cli_json_get(ev, "process.executable"), b);
}

static int events_table(struct cli *cli, const json_t *events)
{
	static const struct cli_output_col cols[] = {
	    {"TIME", 0, "@timestamp", true},	   {"HOST", 32, "host.name", false},
	    {"ACTION", 20, "event.action", false}, {"PID", 0, "process.pid", false},
	    {"TARGET", 60, NULL, false},	   {"COMMAND", 60, "process.command_line", false},
	};
	enum { NCOLS = sizeof(cols) / sizeof(cols[0]) };
	struct dynbuf vals[NCOLS];
	const char *cells[NCOLS];
	struct cli_output_table t;
	const json_t *ev;
	size_t i, c;
	int rc = 0;

	cli_output_table_init(&t, cols, NCOLS);
	for (c = 0; c < NCOLS; c++)
		dynbuf_init(&vals[c], CELL_CAP);
	json_array_foreach(events, i, ev)
	{
		for (c = 0; c < NCOLS; c++) {
			int r;

			dynbuf_reset(&vals[c]);
			if (!cols[c].path)
				r = target_cell(ev, &vals[c]);
			else if (cols[c].time)
				r = cli_json_format_time(cli_json_get(ev, cols[c].path), &vals[c]);
			else
				r = cli_json_format(cli_json_get(ev, cols[c].path), &vals[c]);
			/* A value past CELL_CAP is cut by the table anyway. */
			if (r && r != -ENOSPC)
				rc = r;
			cells[c] = vals[c].data;
		}
		if (!rc)
			rc = cli_output_table_add(&t, cells);
		if (rc)
			break;
	}
	if (!rc)
		rc = cli_output_table_print(&t, cli->out);
	for (c = 0; c < NCOLS; c++)
		dynbuf_release(&vals[c]);
	cli_output_table_release(&t);
	return cli_finish(cli, rc);
}

static int print_count(struct cli *cli, const json_t *reply)
{
	const json_t *n = json_object_get(reply, "count");

	if (!json_is_integer(n)) {
		cli_error(cli, "unusable reply from the server: no count");
		return CLI_EXIT_SERVER;
	}
	fprintf(cli->out, "%" JSON_INTEGER_FORMAT "\n", json_integer_value(n));
	return CLI_EXIT_OK;
}

static int check_time(struct cli *cli, const char *usage, const char *opt, const char *v)
{
	if (!v || cli_args_is_time(v))
		return CLI_EXIT_OK;
	return cli_usage_error(cli, usage,
			       "%s: '%s' is neither a duration (30s, 15m, 2h, 7d) nor an RFC 3339 "
			       "time",
			       opt, v);
}

static int events_search(struct cli *cli, int argc, char **argv)
{
	const char *since = DEFAULT_SINCE, *until = NULL, *limit = NULL, *output = NULL;
	bool count = false;
	const struct cli_args_opt opts[] = {
	    {"since", 's', &since, NULL},   {"until", 'u', &until, NULL},
	    {"limit", 'n', &limit, NULL},   {"count", 'c', NULL, &count},
	    {"output", 'o', &output, NULL}, {NULL, 0, NULL, NULL},
	};
	struct cli_call call = {.method = "GET"};
	enum cli_output_format fmt;
	struct cli_args_pos pos;
	json_t *reply, *events;
	struct dynbuf path;
	long n;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_search);
	rc = cli_parse_args(cli, usage_search, opts, argc, argv, &pos, 1, 1);
	if (!rc)
		rc = cli_parse_output(cli, usage_search, output, &fmt);
	if (!rc)
		rc = check_time(cli, usage_search, "--since", since);
	if (!rc)
		rc = check_time(cli, usage_search, "--until", until);
	if (rc)
		return rc;
	if (limit && cli_args_parse_long(limit, 1, LIMIT_MAX, &n))
		return cli_usage_error(cli, usage_search, "--limit must be a number from 1 to %d",
				       LIMIT_MAX);
	dynbuf_init(&path, PATH_CAP);
	rc = search_path(&path, pos.v[0], since, until, limit, count);
	if (rc) {
		dynbuf_release(&path);
		return cli_request_too_long(cli, rc);
	}
	call.path = path.data;
	call.query_text = pos.v[0];
	rc = cli_call(cli, &call, &reply);
	dynbuf_release(&path);
	if (rc)
		return rc;
	if (count) {
		rc = print_count(cli, reply);
	} else {
		events = cli_reply_array(cli, reply, "events");
		if (!events)
			rc = CLI_EXIT_SERVER;
		else if (fmt == CLI_OUTPUT_JSONL)
			rc = cli_finish(cli, cli_output_list(cli->out, fmt, events, NULL, 0));
		else
			rc = events_table(cli, events);
	}
	json_decref(reply);
	return rc;
}

/* ---- tree ---- */

struct tree_out {
	struct cli *cli;
	enum cli_output_format fmt;
	struct dynbuf line;
};

static int tree_emit(struct tree_out *o, const json_t *ev, size_t depth)
{
	const char *exe = cli_json_get_string(ev, "process.executable");
	const char *cmd = cli_json_get_string(ev, "process.command_line");
	const json_t *pid = cli_json_get(ev, "process.pid");
	struct dynbuf *b = &o->line;
	int rc;

	if (o->fmt == CLI_OUTPUT_JSONL)
		return cli_output_jsonl(o->cli->out, ev);
	if (!exe)
		exe = cli_json_get_string(ev, "process.name");
	dynbuf_reset(b);
	rc = dynbuf_printf(b, "%*s", (int)(depth > TREE_MAX_INDENT ? TREE_MAX_INDENT : depth) * 2,
			   "");
	if (!rc)
		rc = cli_json_format(pid, b);
	if (!rc && exe)
		rc = dynbuf_addc(b, ' ');
	if (!rc && exe)
		rc = cli_output_sanitize(b, exe, 0, NULL);
	if (!rc && cmd)
		rc = dynbuf_addc(b, ' ');
	if (!rc && cmd)
		rc = cli_output_sanitize(b, cmd, TREE_CMDLINE_WIDTH, NULL);
	if (rc)
		return rc;
	fprintf(o->cli->out, "%s\n", b->data);
	return 0;
}

static bool same_string(const json_t *a, const json_t *b)
{
	return json_is_string(a) && json_is_string(b) &&
	       !strcmp(json_string_value(a), json_string_value(b));
}

/* Whether parent is child's parent, by entity id, else by pid. */
static bool is_parent_of(const json_t *parent, const json_t *child)
{
	const json_t *pe = cli_json_get(parent, "process.entity_id");
	const json_t *ce = cli_json_get(child, "process.parent.entity_id");
	const json_t *pp, *cp;

	if (json_is_string(pe) && json_is_string(ce))
		return same_string(pe, ce);
	pp = cli_json_get(parent, "process.pid");
	cp = cli_json_get(child, "process.parent.pid");
	return json_is_integer(pp) && json_is_integer(cp) &&
	       json_integer_value(pp) == json_integer_value(cp);
}

/* The API does not fix the order of "ancestors"; print root first either way. */
static int tree_ancestors(struct tree_out *o, const json_t *anc, const json_t *process)
{
	size_t n = json_array_size(anc);
	bool nearest_first = n > 1 && is_parent_of(json_array_get(anc, 0), process) &&
			     !is_parent_of(json_array_get(anc, n - 1), process);
	int rc = 0;

	for (size_t d = 0; d < n && !rc; d++)
		rc = tree_emit(o, json_array_get(anc, nearest_first ? n - 1 - d : d), d);
	return rc;
}

struct node {
	const json_t *ev;
	size_t depth; /* the server's depth below the process (1 = child) */
	long first;   /* first child, -1 for none */
	long next;    /* next sibling, -1 for none */
	bool done;    /* printed */
};

/* Links each descendant under its parent (by entity id; children keep the server's order) so
 * the tree prints depth-first whatever order the server used. Returns the first child of the
 * process, or -1. */
static long link_nodes(struct node *nodes, size_t n, const json_t *process, json_t *index)
{
	const char *root = cli_json_get_string(process, "process.entity_id");
	long first = -1;

	for (size_t i = 0; i < n; i++) {
		const char *id = cli_json_get_string(nodes[i].ev, "process.entity_id");

		if (id)
			(void)json_object_set_new(index, id, json_integer((json_int_t)i));
	}
	for (size_t k = n; k-- > 0;) {
		const char *pid = cli_json_get_string(nodes[k].ev, "process.parent.entity_id");
		json_t *p;

		if (!pid)
			continue;
		if (root && !strcmp(pid, root)) {
			nodes[k].next = first;
			first = (long)k;
			continue;
		}
		p = json_object_get(index, pid);
		if (json_is_integer(p) && (size_t)json_integer_value(p) != k) {
			size_t pi = (size_t)json_integer_value(p);

			nodes[k].next = nodes[pi].first;
			nodes[pi].first = (long)k;
		}
	}
	return first;
}

/* Pushes the not yet printed nodes of a sibling list so that the first one pops first. */
static size_t push_children(const struct node *nodes, long first, size_t depth, size_t *stack,
			    size_t *sdepth, size_t sp)
{
	size_t cnt = 0, k;
	long c;

	for (c = first; c >= 0; c = nodes[c].next)
		cnt += !nodes[c].done;
	k = sp + cnt;
	for (c = first; c >= 0; c = nodes[c].next) {
		if (nodes[c].done)
			continue;
		stack[--k] = (size_t)c;
		sdepth[k] = depth;
	}
	return sp + cnt;
}

static int tree_descendants(struct tree_out *o, const json_t *desc, const json_t *process,
			    size_t base)
{
	size_t n = json_array_size(desc), sp;
	struct node *nodes = calloc(n ? n : 1, sizeof(*nodes));
	/* Each node sits in one sibling list, which is pushed once: n slots suffice. */
	size_t *stack = calloc(n ? n : 1, sizeof(*stack));
	size_t *sdepth = calloc(n ? n : 1, sizeof(*sdepth));
	json_t *index = json_object();
	int rc = 0;

	if (!nodes || !stack || !sdepth || !index) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *d = json_array_get(desc, i);
		json_int_t depth = json_integer_value(json_object_get(d, "depth"));

		/* Each entry is {"process": EVENT, "depth": n}; an entry whose "process" holds the
		 * process fields themselves is an event already. */
		nodes[i].ev = json_object_get(d, "process");
		if (json_is_object(nodes[i].ev) && !json_object_get(nodes[i].ev, "process"))
			nodes[i].ev = d;
		nodes[i].depth = depth > 0 ? (size_t)depth : 1;
		nodes[i].first = nodes[i].next = -1;
	}
	sp = push_children(nodes, link_nodes(nodes, n, process, index), 1, stack, sdepth, 0);
	while (sp && !rc) {
		size_t i = stack[--sp], d = sdepth[sp];

		nodes[i].done = true;
		rc = tree_emit(o, nodes[i].ev, base + d);
		sp = push_children(nodes, nodes[i].first, d + 1, stack, sdepth, sp);
	}
	/* Whatever the links did not reach (no parent id, or a parent outside the reply) keeps the
	 * server's order and depth. */
	for (size_t i = 0; i < n && !rc; i++)
		if (!nodes[i].done && json_is_object(nodes[i].ev))
			rc = tree_emit(o, nodes[i].ev, base + nodes[i].depth);
out:
	json_decref(index);
	free(sdepth);
	free(stack);
	free(nodes);
	return rc;
}

static int events_tree(struct cli *cli, int argc, char **argv)
{
	const char *since = NULL, *output = NULL;
	const struct cli_args_opt opts[] = {
	    {"since", 's', &since, NULL}, {"output", 'o', &output, NULL}, {NULL, 0, NULL, NULL}};
	struct tree_out o = {.cli = cli};
	struct cli_call call = {.method = "GET"};
	struct cli_args_pos pos;
	const json_t *process, *anc, *desc;
	json_t *reply;
	struct dynbuf path;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_tree);
	rc = cli_parse_args(cli, usage_tree, opts, argc, argv, &pos, 1, 1);
	if (!rc)
		rc = cli_parse_output(cli, usage_tree, output, &o.fmt);
	if (!rc)
		rc = check_time(cli, usage_tree, "--since", since);
	if (rc)
		return rc;
	dynbuf_init(&path, PATH_CAP);
	rc = cli_http_path(&path, "/events/tree/", pos.v[0], "");
	if (!rc && since)
		rc = cli_http_query_add(&path, "since", since);
	if (rc) {
		dynbuf_release(&path);
		return cli_request_too_long(cli, rc);
	}
	call.path = path.data;
	rc = cli_call(cli, &call, &reply);
	dynbuf_release(&path);
	if (rc)
		return rc;
	process = json_object_get(reply, "process");
	anc = json_object_get(reply, "ancestors");
	desc = json_object_get(reply, "descendants");
	if (!json_is_object(process)) {
		cli_error(cli, "unusable reply from the server: no process");
		json_decref(reply);
		return CLI_EXIT_SERVER;
	}
	dynbuf_init(&o.line, 1u << 20);
	rc = tree_ancestors(&o, anc, process);
	if (!rc)
		rc = tree_emit(&o, process, json_array_size(anc));
	if (!rc)
		rc = tree_descendants(&o, desc, process, json_array_size(anc));
	dynbuf_release(&o.line);
	rc = cli_finish(cli, rc);
	if (!rc && json_is_true(json_object_get(reply, "truncated")))
		cli_error(cli, "the tree is larger than the server returns; showing part of it");
	json_decref(reply);
	return rc;
}

static const struct cli_cmd subs[] = {{"search", events_search}, {"tree", events_tree}};

int cmd_events_run(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), usage_events, argc, argv);
}
