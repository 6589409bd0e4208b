#include "agent_run.h"
#include "agent_detect.h"
#include "agent_enforce.h"
#include "agent_sched.h"
#include "agent_yara.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "agent.h"
#include "hashcache.h"
#include "log.h"
#include "output.h"
#include "proctable.h"
#include "source.h"

#include "banned.h"

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		stop_requested = 1;
}

/* SIGHUP: rules and indicators are read again and swapped in without a restart. */
static void reload_detection(struct agent *ag)
{
	char err[512];

	reload_requested = 0;
	if (!ag->detect)
		return;
	if (agent_detect_reload(ag->detect, &ag->config->detect_rules, &ag->config->detect_iocs,
				err, sizeof(err)) < 0) {
		log_warn("agent", "reload failed, keeping the current rules: %s", err);
		return;
	}
	if (ag->health) {
		struct agent_detect_stats ds;

		agent_detect_get_stats(ag->detect, &ds);
		pthread_mutex_lock(&ag->health->lock);
		snprintf(ag->health->content_version, sizeof(ag->health->content_version), "%s",
			 ds.version);
		ag->health->rules = ds.rules;
		pthread_mutex_unlock(&ag->health->lock);
	}
	log_info("agent", "detection content reloaded");
}

static const struct source_ops *const all_sources[] = {
    &source_ebpf_ops,  &source_fanotify_ops, &source_netlink_ops,
    &source_audit_ops, &source_procfs_ops,   &source_inventory_ops,
};
#define NSOURCES (sizeof(all_sources) / sizeof(all_sources[0]))

static enum source_mode mode_of(const struct agent_config *c, const struct source_ops *ops)
{
	if (ops == &source_ebpf_ops)
		return c->src_ebpf;
	if (ops == &source_fanotify_ops)
		return c->src_fanotify;
	if (ops == &source_netlink_ops)
		return c->src_netlink;
	if (ops == &source_audit_ops)
		return c->src_audit;
	if (ops == &source_procfs_ops)
		return c->src_procfs;
	return c->src_inventory;
}

/* What each fallback is there for: it starts only when that is still missing. */
static unsigned fallback_for(const struct source_ops *ops)
{
	if (ops == &source_netlink_ops)
		return SOURCE_COVER_PROCESS;
	if (ops == &source_audit_ops)
		return SOURCE_COVER_SYSCALLS;
	if (ops == &source_procfs_ops)
		return SOURCE_COVER_NETWORK;
	return 0;
}

static void cover_names(unsigned cover, char *out, size_t size)
{
	static const char *const names[] = {"process",	"network", "file",
					    "syscalls", "dns",	   "inventory"};
	size_t o = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < 6; i++) {
		if (cover & (1u << i))
			o += (size_t)snprintf(out + o, size - o, "%s%s", o ? "," : "", names[i]);
		if (o >= size)
			break;
	}
}

static void read_host(struct agent *ag)
{
	int fd;
	ssize_t n;

	if (ag->config->host_name[0])
		event_copy_str(ag->host_name, sizeof(ag->host_name), ag->config->host_name,
			       strlen(ag->config->host_name));
	else if (gethostname(ag->host_name, sizeof(ag->host_name) - 1) != 0)
		event_copy_str(ag->host_name, sizeof(ag->host_name), "localhost", 9);
	char boot[64];

	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, boot, sizeof(boot) - 1) : -1;
	if (fd >= 0)
		close(fd);
	boot[n > 0 ? n : 0] = '\0';
	agent_set_boot_id(ag, boot, strcspn(boot, "\n"));
}

/* Opens the sources in order; returns -1 when a source set to "on" failed. */
static int open_sources(struct agent *ag, struct source *srcs, bool replay)
{
	char why[256], cov[96];

	if (replay) {
		srcs[0] = (struct source){.ops = &source_replay_ops, .agent = ag};
		ag->nsources = 1;
		if (source_replay_ops.open(&srcs[0], ~0u, why, sizeof(why)) != 0) {
			log_error("agent", "source replay failed: %s", why);
			return -1;
		}
		srcs[0].active = true;
		ag->cover = source_replay_ops.cover(&srcs[0]);
		log_info("agent", "source replay active path=%s", ag->config->replay_path);
		return 0;
	}
	for (size_t i = 0; i < NSOURCES; i++) {
		const struct source_ops *ops = all_sources[i];
		enum source_mode mode = mode_of(ag->config, ops);
		unsigned need = fallback_for(ops);
		struct source *s = &srcs[ag->nsources++];

		*s = (struct source){.ops = ops, .agent = ag};
		if (mode == SOURCE_MODE_OFF) {
			log_info("agent", "source %s off by configuration", ops->name);
			continue;
		}
		if (mode == SOURCE_MODE_AUTO && need && (ag->cover & need) == need) {
			log_info("agent",
				 "source %s not needed: its events come from a primary source",
				 ops->name);
			continue;
		}
		why[0] = '\0';
		if (ops->open(s, ~ag->cover, why, sizeof(why)) != 0) {
			if (mode == SOURCE_MODE_ON) {
				log_error("agent", "source %s required but failed: %s", ops->name,
					  why);
				return -1;
			}
			log_warn("agent", "source %s inactive: %s", ops->name, why);
			continue;
		}
		s->active = true;
		ag->cover |= ops->cover(s);
		cover_names(ops->cover(s), cov, sizeof(cov));
		log_info("agent", "source %s active cover=%s", ops->name, cov);
	}
	cover_names(ag->cover, cov, sizeof(cov));
	log_info("agent", "telemetry cover=%s", cov);
	return 0;
}

static void emit_stats(struct agent *ag)
{
	static struct event ev;

	event_reset(&ev);
	ev.action = EVENT_ACTION_AGENT_DROPS;
	event_copy_str(ev.mamori_source, sizeof(ev.mamori_source), "agent", 5);
	ev.drops_kernel = atomic_load(&ag->counters.kernel_dropped);
	ev.drops_queue = atomic_load(&ag->counters.queue_dropped);
	ev.drops_shed = atomic_load(&ag->counters.shed);
	ev.events_total = atomic_load(&ag->counters.emitted);
	event_mark(&ev, EVF_MAMORI_DROPS_KERNEL);
	event_mark(&ev, EVF_MAMORI_DROPS_QUEUE);
	event_mark(&ev, EVF_MAMORI_DROPS_SHED);
	event_mark(&ev, EVF_MAMORI_EVENTS_TOTAL);
	ev.process.pid = (uint32_t)ag->self_pid;
	event_mark(&ev, EVF_PROCESS_PID);
	agent_emit(ag, &ev);
}

struct budget {
	uint64_t window_start;
	uint64_t cpu_start_us;
	unsigned cpu_percent;
	unsigned rss_mb;
};

static uint64_t cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Private resident memory (RssAnon): what the agent itself grows. The ring buffer's pages are a
 * fixed, configured mapping (ringbuf.size_kb) and shared with the kernel, so they are left out. */
static unsigned rss_mb(void)
{
	char buf[4096];
	const char *p;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "\nRssAnon:");
	if (!p)
		return 0;
	return (unsigned)(strtoul(p + 9, NULL, 10) / 1024);
}

/* What the heartbeat reports: the last window's CPU and memory, and the counters. */
static void publish_health(struct agent *ag, const struct budget *b)
{
	if (!ag->health)
		return;
	pthread_mutex_lock(&ag->health->lock);
	ag->health->cpu_pct = b->cpu_percent;
	ag->health->rss_mb = b->rss_mb;
	ag->health->kernel_drops = atomic_load(&ag->counters.kernel_dropped);
	ag->health->queue_drops = atomic_load(&ag->counters.queue_dropped);
	ag->health->shed = atomic_load(&ag->counters.shed);
	ag->health->emitted = atomic_load(&ag->counters.emitted);
	ag->health->malformed = atomic_load(&ag->counters.malformed);
	ag->health->alerts = atomic_load(&ag->counters.alerts);
	pthread_mutex_unlock(&ag->health->lock);
}

/* Every 5 s: over the CPU or memory budget, shed low-value events until back under it. */
static void check_budget(struct agent *ag, struct budget *b, uint64_t now)
{
	uint64_t cpu, used_us, window_us;
	bool over;

	if (now - b->window_start < 5000000000ull)
		return;
	window_us = (now - b->window_start) / 1000;
	cpu = cpu_us();
	used_us = cpu - b->cpu_start_us;
	b->cpu_percent = (unsigned)(used_us * 100 / window_us);
	b->rss_mb = rss_mb();
	b->window_start = now;
	b->cpu_start_us = cpu;
	/* Compared exactly, not through the truncated percentage: 1.8% is over a 1% budget. */
	over = used_us * 100 > (uint64_t)ag->config->budget_cpu_percent * window_us ||
	       b->rss_mb > ag->config->budget_memory_mb;
	if (over != ag->shedding)
		log_warn("agent", "%s shedding cpu=%u%% budget=%u%% rss=%uMB budget=%uMB",
			 over ? "start" : "stop", b->cpu_percent, ag->config->budget_cpu_percent,
			 b->rss_mb, ag->config->budget_memory_mb);
	ag->shedding = over;
	publish_health(ag, b);
}

static void report_sources(struct agent *ag)
{
	size_t off = 0;

	if (!ag->health)
		return;
	pthread_mutex_lock(&ag->health->lock);
	ag->health->sources[0] = 0;
	for (size_t i = 0; i < ag->nsources; i++) {
		int k;

		if (!ag->sources[i].active)
			continue;
		k = snprintf(ag->health->sources + off, sizeof(ag->health->sources) - off, "%s%s",
			     off ? "," : "", ag->sources[i].ops->name);
		if (k < 0 || (size_t)k >= sizeof(ag->health->sources) - off)
			break;
		off += (size_t)k;
	}
	pthread_mutex_unlock(&ag->health->lock);
}

/* Why the event thread may not run idle-class (agent_sched.h), or NULL when it may. */
static const char *idle_class_off(const struct agent *ag, const struct source *srcs, bool replay,
				  bool enforcing)
{
	if (!ag->config->idle_class)
		return "budget.idle_class off";
	if (replay)
		return "replay";
	if (enforcing)
		return "exec blocking waits on this thread";
	for (size_t i = 0; i < ag->nsources; i++)
		if (srcs[i].active && srcs[i].ops == &source_ebpf_ops)
			return NULL;
	return "no eBPF ring to watch for a backlog";
}

/* How long the oldest event drained since the last look waited in the ring (boot clock, as
 * the kernel stamps them), 0 when none was. */
static uint64_t ring_wait(const struct agent *ag)
{
	struct timespec ts;

	if (!ag->ring_oldest_ns || clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		return 0;
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	return now > ag->ring_oldest_ns ? now - ag->ring_oldest_ns : 0;
}

static void loop(struct agent *ag, struct source *srcs, unsigned seconds, bool replay,
		 bool enforcing)
{
	struct epoll_event evs[16];
	uint64_t start = agent_now_mono(), last_tick = 0, last_stats = start, last_expire = start;
	uint64_t tick_ns = (uint64_t)ag->config->wakeup_ms * 1000000ull;
	struct budget b = {start, cpu_us(), 0, 0};
	struct agent_sched sched;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	/* Only this thread, the one that drains the ring, changes class (agent_sched.h). */
	const char *off = idle_class_off(ag, srcs, replay, enforcing);
	agent_sched_start(&sched, !off, off,
			  agent_sched_backlog_mark((uint64_t)ag->config->ringbuf_kb * 1024,
						   ag->config->wakeup_bytes),
			  agent_sched_lag_mark(ag->config->wakeup_ms));
	ag->ring_drained = 0;
	ag->ring_oldest_ns = 0;

	for (size_t i = 0; i < ag->nsources; i++) {
		int fd = srcs[i].active ? srcs[i].ops->fd(&srcs[i]) : -1;

		if (fd >= 0) {
			struct epoll_event e = {.events = EPOLLIN, .data.u64 = i};

			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
		}
	}
	while (!stop_requested) {
		bool finished = false;

		if (reload_requested)
			reload_detection(ag);
		int n = epoll_wait(ep, evs, 16, ag->config->wakeup_ms);
		uint64_t now = agent_now_mono();

		for (int i = 0; i < n; i++) {
			struct source *s = &srcs[evs[i].data.u64];
			int prc = s->active ? s->ops->poll(s) : 0;

			if (prc < 0) {
				log_error("agent", "source %s failed; stopping it", s->ops->name);
				s->ops->close(s);
				s->active = false;
			} else if (prc == 1 && replay) {
				finished = true;
			}
		}
		if (now - last_tick >= tick_ns) {
			last_tick = now;
			for (size_t i = 0; i < ag->nsources; i++) {
				struct source *s = &srcs[i];

				if (!s->active)
					continue;
				if (s->ops->fd(s) < 0 && s->ops->poll(s) == 1 && replay)
					finished = true;
				s->ops->tick(s, now);
			}
			output_flush(ag->out);
		}
		if (ag->procs && now - last_expire >= 1000000000ull) {
			last_expire = now;
			proctable_expire(ag->procs, now);
		}
		agent_sched_update(&sched, ag->ring_drained, ring_wait(ag), now);
		ag->ring_drained = 0;
		ag->ring_oldest_ns = 0;
		check_budget(ag, &b, now);
		if (now - last_stats >= (uint64_t)ag->config->stats_interval_s * 1000000000ull) {
			last_stats = now;
			emit_stats(ag);
		}
		if (finished || (seconds && now - start >= (uint64_t)seconds * 1000000000ull))
			break;
	}
	agent_sched_stop(&sched);
	close(ep);
}

/* Like other host agents (Wazuh runs at nice 10), yield the CPU to the workloads it watches;
 * what it cannot keep up with is counted as dropped, never lost silently. */
void agent_set_nice(const struct agent_config *c)
{
	errno = 0;
	if (setpriority(PRIO_PROCESS, 0, c->nice) != 0)
		log_warn("agent", "cannot set nice %d: %s", c->nice, strerror(errno));
}

int agent_run(struct agent_config *c, const struct agent_run_opts *o)
{
	struct agent ag = {0};
	struct agent_enforce *enforce = NULL;
	struct source srcs[NSOURCES + 1];
	struct sigaction sa = {0};
	bool replay = c->replay_path[0] != '\0';
	int rc = 0;

	ag.config = c;
	ag.self_pid = getpid();
	read_host(&ag);
	ag.sources = srcs;
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	agent_set_nice(c);
	ag.health = o->health;
	ag.out = o->out ? o->out : output_new(o->out_fd, 256 * 1024);
	if (!ag.out)
		return 1;
	if (!replay) {
		ag.procs = proctable_new(&ag, 65536);
		if (ag.procs)
			log_info("agent", "process table seeded from /proc processes=%zu",
				 proctable_scan(ag.procs));
	}
	if (c->detect_rules.n || c->detect_iocs.n) {
		char err[512];

		ag.detect = agent_detect_new(&c->detect_rules, &c->detect_iocs, err, sizeof(err));
		if (!ag.detect) {
			log_error("agent", "local detection: %s", err);
			if (!o->out)
				output_free(ag.out);
			return 1;
		}
	}
	if (c->detect_yara.n) {
		char err[512];
		struct agent_yara_opts yo = {.max_file_bytes = (uint64_t)c->yara_max_mb << 20,
					     .mb_per_s = c->yara_mb_per_s};

		ag.yara = agent_yara_new(&c->detect_yara, &yo, agent_emit_alert, &ag, err,
					 sizeof(err));
		if (!ag.yara) {
			log_error("agent", "YARA: %s", err);
			agent_detect_free(ag.detect);
			if (!o->out)
				output_free(ag.out);
			return 1;
		}
	}
	if (ag.health && (ag.detect || ag.yara)) {
		struct agent_detect_stats ds = {0};
		struct agent_yara_stats ys = {0};

		if (ag.detect)
			agent_detect_get_stats(ag.detect, &ds);
		if (ag.yara)
			agent_yara_get_stats(ag.yara, &ys);
		pthread_mutex_lock(&ag.health->lock);
		snprintf(ag.health->content_version, sizeof(ag.health->content_version), "%s",
			 ds.version[0] ? ds.version : "yara-only");
		ag.health->rules = ds.rules;
		ag.health->yara_rules = ys.rules;
		pthread_mutex_unlock(&ag.health->lock);
	}
	if (c->hash_executables)
		ag.hashes =
		    hashcache_new(4096, c->queue_events, c->hash_max_bytes, agent_hash_done, &ag);
	if (o->enforce) {
		char err[256];

		enforce = agent_enforce_new(&ag, err, sizeof(err));
		if (!enforce)
			log_warn("agent", "exec blocking off: %s", err);
	}
	if (open_sources(&ag, srcs, replay) != 0) {
		rc = 1;
	} else if (ag.cover == 0 && !replay) {
		log_error("agent", "no source could be opened: nothing to capture");
		rc = 1;
	} else {
		log_info("agent", "capturing host=%s pid=%d", ag.host_name, (int)ag.self_pid);
		/* Before the sources are reported: that sends the first heartbeat at once. */
		struct budget b0 = {0, 0, 0, rss_mb()};
		publish_health(&ag, &b0);
		report_sources(&ag);
		loop(&ag, srcs, o->seconds, replay, enforce != NULL);
	}
	for (size_t i = 0; i < ag.nsources; i++) {
		if (srcs[i].active) {
			srcs[i].ops->close(&srcs[i]);
			srcs[i].active = false;
		}
	}
	/* No process may stay stopped or denied by an agent that has gone. */
	agent_enforce_free(enforce);
	/* Hashing finishes the queued execs before the final counters are written. */
	hashcache_free(ag.hashes);
	ag.hashes = NULL;
	if (ag.yara) {
		struct agent_yara_stats ys;

		/* Scans already queued finish (bounded) so their alerts go out with the rest. */
		agent_yara_idle(ag.yara, 5000);
		agent_yara_get_stats(ag.yara, &ys);
		log_info("agent",
			 "yara scanned=%llu cached=%llu matches=%llu skipped_size=%llu "
			 "skipped_type=%llu dropped=%llu errors=%llu",
			 (unsigned long long)ys.scanned, (unsigned long long)ys.cached,
			 (unsigned long long)ys.matches, (unsigned long long)ys.skipped_size,
			 (unsigned long long)ys.skipped_type, (unsigned long long)ys.dropped,
			 (unsigned long long)ys.errors);
		agent_yara_free(ag.yara);
		ag.yara = NULL;
	}
	if (rc == 0)
		emit_stats(&ag);
	log_info("agent", "stopped emitted=%llu kernel_dropped=%llu shed=%llu malformed=%llu",
		 (unsigned long long)atomic_load(&ag.counters.emitted),
		 (unsigned long long)atomic_load(&ag.counters.kernel_dropped),
		 (unsigned long long)atomic_load(&ag.counters.shed),
		 (unsigned long long)atomic_load(&ag.counters.malformed));
	if (o->out)
		output_flush_all(ag.out);
	else
		output_free(ag.out);
	proctable_free(ag.procs);
	if (ag.detect) {
		struct agent_detect_stats st;

		agent_detect_get_stats(ag.detect, &st);
		log_info("agent", "local detection evaluated=%llu alerts=%llu",
			 (unsigned long long)st.evaluated, (unsigned long long)st.alerts);
		agent_detect_free(ag.detect);
	}
	return rc;
}
