#!/usr/bin/env bash
# The pipeline benchmark: a real mamori-server loaded by simulated agents (bench/loadgen.c,
# built as mamori-loadgen) that speak the real agent protocol, and a real mamori-agent for the
# event-to-searchable latency. Measures, on this machine:
#   1. ingest events/s into SQLite, per --ingest-threads, against the raw SQLite insert floor
#      (same rows, schema, indexes and pragmas, one transaction per batch) in the same run;
#   2. the same into PostgreSQL, against COPY of the same rows through psql;
#   3. PIPE_AGENTS concurrent agents holding a command long poll on one node: its memory, and
#      that a command still reaches one of them at once;
#   4. event-on-host to searchable latency with the real agent (p50/p99), idle, in a stream of
#      events, and with the server ingesting at half its measured SQLite rate.
# Zero loss across a server SIGKILL and a long outage is tests/e2e/pipeline_faults.sh: its output
# is included (PIPE_FAULTS=1 runs it here, PIPE_FAULTS_LOG=FILE includes an earlier run's output).
#
# Builds nothing: expects build/release/bin (`make`, or `cmake --build --preset release`).
# Needs root only for PostgreSQL (it runs as user postgres; skipped otherwise). Everything runs
# in a mktemp -d directory under /tmp, removed at exit with every process it started.
# Writes the report to bench/results/pipeline.md (PIPE_OUT) and prints it.
#
# Environment: PIPE_BIN (build/release/bin), PIPE_AGENTS (10000 enrolled and held),
# PIPE_INGEST_AGENTS (100), PIPE_BATCH (4000), PIPE_INFLIGHT (8), PIPE_SECONDS (60),
# PIPE_THREADS ("1 2"), PIPE_PG (1), PIPE_HOLD_S (60), PIPE_LATENCY_SAMPLES (200),
# PIPE_FAULTS (0), PIPE_FAULTS_LOG, PIPE_OUT, PIPE_KEEP (1: keep the work directory).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BIN=${PIPE_BIN:-$ROOT/build/release/bin}
OUT=${PIPE_OUT:-$ROOT/bench/results/pipeline.md}
AGENTS=${PIPE_AGENTS:-10000}
INGEST_AGENTS=${PIPE_INGEST_AGENTS:-100}
BATCH=${PIPE_BATCH:-4000}
INFLIGHT=${PIPE_INFLIGHT:-8}
SECS=${PIPE_SECONDS:-60}
THREADS=${PIPE_THREADS:-"1 2"}
PG=${PIPE_PG:-1}
HOLD_S=${PIPE_HOLD_S:-60}
LAT_N=${PIPE_LATENCY_SAMPLES:-200}
FAULTS=${PIPE_FAULTS:-0}
FAULTS_LOG=${PIPE_FAULTS_LOG:-}
KEEP=${PIPE_KEEP:-0}
PING_HOST=$(printf 'sim-%05d' $((AGENTS / 2)))

say() { echo "pipeline: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

for b in mamori-server mamori-loadgen mamori-agent mamori; do
	[ -x "$BIN/$b" ] || die "$BIN/$b not found: build first (make, or cmake --build --preset release)"
done
for tool in python3 curl awk; do
	command -v "$tool" >/dev/null || die "$tool missing"
done
for v in AGENTS INGEST_AGENTS BATCH INFLIGHT SECS HOLD_S LAT_N; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "PIPE_$v must be a positive whole number"
done
[ "$INGEST_AGENTS" -le "$AGENTS" ] || die "PIPE_INGEST_AGENTS exceeds PIPE_AGENTS"
[ "$HOLD_S" -ge 45 ] || die "PIPE_HOLD_S must be at least 45 (the checks during the hold take 40 s)"

# One descriptor per held agent in both the server and the load generator. Raising the hard
# limit needs CAP_SYS_RESOURCE; without it, the hard limit must already be high enough.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((AGENTS + 512)) ] ||
	die "open files limited to $(ulimit -n): $AGENTS held agents need $((AGENTS + 512))"

MAIN_PID=$BASHPID
WORK=$(mktemp -d /tmp/mamori-pipe.XXXXXX)
chmod 755 "$WORK" # PostgreSQL runs as user postgres under it
PIDS=()
PGDATA_DIR=

cleanup() {
	local rc=$? p
	[ "$BASHPID" = "$MAIN_PID" ] || exit "$rc"
	trap '' INT TERM
	trap - EXIT
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ -n "$PGDATA_DIR" ]; then
		bash "$ROOT/scripts/pg.sh" stop "$PGDATA_DIR" >/dev/null 2>&1 || true
	fi
	if [ "$KEEP" = 1 ]; then say "work directory kept: $WORK"; else rm -rf "$WORK"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers ---------------------------------------------------------------------------------

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
cpu_ticks() { # utime + stime, in clock ticks
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || {
		echo 0
		return
	}
	echo "${s##*) }" | awk '{print $12 + $13}'
}
status_kb() { awk -v k="$2:" '$1 == k {print $2; exit}' "/proc/$1/status" 2>/dev/null || echo 0; }
CLK_TCK=$(getconf CLK_TCK)
# field "LINE" KEY: the value of KEY=VALUE in a loadgen result line.
field() { printf ' %s\n' "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d.get(k) if isinstance(d, dict) else None
print("" if d is None else d)' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
cores() { awk -v t="$1" -v s="$2" -v hz="$CLK_TCK" 'BEGIN {if (s > 0) printf "%.2f", t / hz / s; else print "n/a"}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

SPID='' PORT='' URL='' CA='' TOKEN=''
# start_server NAME DATA [server args...]: sets SPID, PORT, URL, CA, TOKEN (admin).
start_server() {
	local name=$1 data=$2
	shift 2
	PORT=$(free_port)
	URL=https://127.0.0.1:$PORT
	CA=$data/ca.crt
	"$BIN/mamori-server" --data "$data" --listen "127.0.0.1:$PORT" "$@" >>"$WORK/$name.log" 2>&1 &
	SPID=$!
	PIDS+=("$SPID")
	for _ in $(seq 1 300); do
		if curl -sf --cacert "$CA" "$URL/healthz" >/dev/null 2>&1; then
			TOKEN=$(jget token <"$data/initial-admin.json")
			return 0
		fi
		kill -0 "$SPID" 2>/dev/null || {
			tail -20 "$WORK/$name.log" >&2
			die "server $name exited"
		}
		sleep 0.1
	done
	die "server $name did not answer on $URL"
}
stop_server() {
	kill -TERM "$SPID" 2>/dev/null || true
	wait "$SPID" 2>/dev/null || true
}
api() { # api METHOD PATH [JSON]
	curl -s --cacert "$CA" -H "Authorization: Bearer $TOKEN" -X "$1" "$URL/api/v1$2" ${3:+-d "$3"}
}
new_token() { api POST /tokens '{"group":"default","expires":"1d"}' | jget token; }

# ingest LABEL AGENTS_DIR [loadgen args...]: runs one measured ingest against the running server;
# sets ING (loadgen result line), ING_CPU (server ticks), ING_LG_CPU (loadgen ticks).
ING='' ING_CPU='' ING_LG_CPU=''
ingest() {
	local label=$1 dir=$2 c0 lp rc=0
	shift 2
	c0=$(cpu_ticks "$SPID")
	"$BIN/mamori-loadgen" ingest --agents "$dir" --url "$URL" --agents-used "$INGEST_AGENTS" \
		--batch "$BATCH" --inflight "$INFLIGHT" --duration "$SECS" --progress "$@" \
		>"$WORK/$label.out" 2>"$WORK/$label.err" &
	lp=$!
	PIDS+=("$lp")
	# The loadgen's own CPU, read just before it exits.
	while kill -0 "$lp" 2>/dev/null; do
		ING_LG_CPU=$(cpu_ticks "$lp")
		sleep 0.5
	done
	wait "$lp" || rc=$?
	ING_CPU=$(($(cpu_ticks "$SPID") - c0))
	ING=$(grep '^mode=ingest' "$WORK/$label.out" || true)
	[ -n "$ING" ] || {
		tail -20 "$WORK/$label.err" >&2
		die "$label: loadgen failed (status $rc)"
	}
	say "$label: $(field "$ING" events_per_s) events/s, ack p99 $(field "$ING" ack_p99_ms) ms, errors $(field "$ING" errors)"
}

say "work=$WORK agents=$AGENTS ingest_agents=$INGEST_AGENTS batch=$BATCH inflight=$INFLIGHT seconds=$SECS threads=\"$THREADS\""
LOAD_START=$(loadavg)
if head=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
	git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || head="$head+uncommitted-changes"
else
	head=no-commit
fi
COMMIT=$head
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MEM_GIB=$(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)
SQLITE_VER=$(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)')

# --- 0. one enrolled fleet, copied for every run ------------------------------------------------

start_server base "$WORK/base"
ENROLL_TOKEN=$(new_token)
[ -n "$ENROLL_TOKEN" ] || die "no enrollment token"
say "enrolling $AGENTS simulated agents"
ENROLL=$("$BIN/mamori-loadgen" enroll --url "$URL" --token "$ENROLL_TOKEN" --count "$AGENTS" \
	--out "$WORK/agents" 2>"$WORK/enroll.err") || {
	tail "$WORK/enroll.err" >&2
	die "enrollment failed"
}
say "$ENROLL"
stop_server
fresh() { # fresh NAME: a copy of the enrolled server's data directory
	rm -rf "${WORK:?}/$1"
	cp -a "$WORK/base" "$WORK/$1"
}

# --- 1. SQLite ingest, per thread count, and the raw SQLite floor --------------------------------

declare -A SQ PGR
for t in $THREADS; do
	fresh "sqlite-t$t"
	start_server "sqlite-t$t" "$WORK/sqlite-t$t" --ingest-threads "$t"
	ingest "sqlite-t$t" "$WORK/agents"
	SQ[$t.line]=$ING
	SQ[$t.cpu]=$ING_CPU
	SQ[$t.lgcpu]=$ING_LG_CPU
	SQ[$t.hwm]=$(status_kb "$SPID" VmHWM)
	SQ[$t.stats]=$(api GET /stats)
	stop_server
	SQ[$t.rows]=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM events").fetchone()[0])' "$WORK/sqlite-t$t/mamori.db")
	SQ[$t.dbmb]=$(du -cm "$WORK/sqlite-t$t"/mamori.db* | awk 'END {print $1}')
	rm -rf "${WORK:?}/sqlite-t$t"
done
T1=${THREADS%% *}
FLOOR_ROWS=$(field "${SQ[$T1.line]}" events)

# The same rows the server stored: the loadgen's first 16 templates, cycled, decoded as the server
# decodes them, into a fresh database with the server's schema, indexes and pragmas.
"$BIN/mamori-loadgen" dump --out "$WORK/rows.ndjson" --templates 16 --batch "$BATCH" \
	--agents-used "$INGEST_AGENTS"
cat >"$WORK/rows.py" <<'PY'
import calendar, json, time
COLS = ("ts, agent_id, host, action, category, entity_id, parent_entity_id, pid, name, exe, hash,"
        " path, src_ip, dst_ip, dst_port, user_name, dns, doc")
def g(e, path):
    for k in path.split("."):
        if not isinstance(e, dict) or k not in e:
            return None
        e = e[k]
    return e
def ts_ns(s):
    frac = s[20:-1] if s[19] == "." else ""
    return (calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) * 10**9
            + int((frac + "000000000")[:9]))
def rows(path):
    out = []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        e = json.loads(line)
        cat = g(e, "event.category")
        out.append((ts_ns(e["@timestamp"]), "00000000000000000000000000f1001", g(e, "host.name"),
                    g(e, "event.action"), cat[0] if isinstance(cat, list) and cat else cat,
                    g(e, "process.entity_id"), g(e, "process.parent.entity_id"),
                    g(e, "process.pid"), g(e, "process.name"), g(e, "process.executable"),
                    g(e, "process.hash.sha256"), g(e, "file.path"), g(e, "source.ip"),
                    g(e, "destination.ip"), g(e, "destination.port"), g(e, "user.name"),
                    g(e, "dns.question.name"), line))
    return out
PY
cat >"$WORK/sqlite_floor.py" <<'PY'
import os, random, sqlite3, sys, time, zlib
sys.path.insert(0, sys.argv[1])
from rows import COLS, rows
src, db, total, chunk = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
r = rows(src)
chunks = [r[i:i + chunk] for i in range(0, len(r), chunk)]
c = sqlite3.connect(db, isolation_level=None)
# src/server/store_sqlite.c and store_sqlite_events.c: pragmas, and schema v8's layout: one
# event_blocks row per batch (compressed text, frame index, Bloom filter) and narrow event rows.
pre = [os.environ["FLOOR_PRE"]] if os.environ.get("FLOOR_PRE") else []
for p in pre + ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=OFF",
                "PRAGMA temp_store=MEMORY", "PRAGMA cache_size=-65536"] + sys.argv[6:]:
    c.execute(p)
for q in [
    "CREATE TABLE event_blocks (id INTEGER PRIMARY KEY, ts_min INTEGER NOT NULL,"
    " ts_max INTEGER NOT NULL, n INTEGER NOT NULL, raw_len INTEGER NOT NULL,"
    " bloom BLOB NOT NULL, frames BLOB NOT NULL, data BLOB NOT NULL)",
    "CREATE INDEX event_blocks_ts ON event_blocks (ts_max)",
    "CREATE TABLE events (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, agent_id TEXT, host TEXT,"
    " action TEXT, category TEXT, entity_id TEXT, parent_entity_id TEXT, pid INTEGER, name TEXT,"
    " exe TEXT, hash TEXT, path TEXT, src_ip TEXT, dst_ip TEXT, dst_port INTEGER, user_name TEXT,"
    " dns TEXT, blk INTEGER NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL)",
    "CREATE INDEX events_ts ON events (ts)",
    "CREATE INDEX events_host_ts ON events (host, ts)",
    "CREATE INDEX events_blk ON events (blk)",
    "CREATE TABLE batches (agent_id TEXT NOT NULL, epoch TEXT NOT NULL,"
    " last_seq INTEGER NOT NULL, PRIMARY KEY (agent_id, epoch))"]:
    c.execute(q)
# Per chunk, prepared before the clock starts: the rows without their documents but with their
# place in the block, and blobs of the sizes the server writes (the text compressed by zlib as a
# stand-in for the agent's zstd frames, a filter of 10 bits per distinct filtered value, one
# frame index entry per 64 KiB).
FILTERED = (5, 6, 8, 9, 10, 11, 12, 13, 15, 16)  # entity, parent, name, exe, hash, path, ips, user, dns
prep = []
for ch in chunks:
    text, out, off = [], [], 0
    for row in ch:
        doc = row[-1].encode()
        out.append(row[:-1] + (off, len(doc)))
        text.append(doc + b"\n")
        off += len(doc) + 1
    keys = {(i, row[i]) for row in ch for i in FILTERED if row[i] is not None}
    data = zlib.compress(b"".join(text), 1)
    prep.append((out, off, random.randbytes(8 + 64 * max(1, -(-len(keys) * 10 // 512))),
                 random.randbytes(8 * (off // 65536 + 2)), data,
                 min(row[0] for row in ch), max(row[0] for row in ch)))
# blk: the block just written (max(id) is one B-tree step), so the rows need no rebuilding.
ins = ("INSERT INTO events (%s, off, len, blk) VALUES (%s, (SELECT max(id) FROM event_blocks))"
       % (COLS.replace(", doc", ""), ",".join("?" * 19)))
done = k = 0
t0 = time.monotonic()
while done < total:
    out, raw, bloom, frames, data, lo, hi = prep[k % len(prep)]
    k += 1
    c.execute("BEGIN")
    c.execute("SELECT last_seq FROM batches WHERE agent_id = 'floor' AND epoch = 'e'").fetchall()
    c.execute("INSERT INTO event_blocks (ts_min, ts_max, n, raw_len, bloom, frames, data)"
              " VALUES (?, ?, ?, ?, ?, ?, ?)", (lo, hi, len(out), raw, bloom, frames, data))
    c.executemany(ins, out)
    c.execute("INSERT INTO batches VALUES ('floor', 'e', ?) ON CONFLICT (agent_id, epoch)"
              " DO UPDATE SET last_seq = excluded.last_seq", (k,))
    c.execute("COMMIT")
    done += len(out)
el = time.monotonic() - t0
print(f"rows={done} seconds={el:.2f} rows_per_s={done / el:.0f}")
PY
# The server's pragmas beyond the list above (kept in step with src/server/store_sqlite.c): 16 KiB
# pages for a new database, set before WAL mode, and a checkpoint every 64 MiB of WAL.
FLOOR_EXTRA=()
if grep -q 'PRAGMA page_size=16384' "$ROOT/src/server/store_sqlite.c"; then
	FLOOR_PRE=("PRAGMA page_size=16384")
	FLOOR_EXTRA+=("PRAGMA wal_autocheckpoint=4096")
else
	FLOOR_PRE=()
	FLOOR_EXTRA+=("PRAGMA wal_autocheckpoint=16384")
fi
say "raw SQLite floor: $FLOOR_ROWS rows"
SQ_FLOOR=$(FLOOR_PRE="${FLOOR_PRE[*]}" python3 "$WORK/sqlite_floor.py" "$WORK" "$WORK/rows.ndjson" \
	"$WORK/floor.db" "$FLOOR_ROWS" "$BATCH" "${FLOOR_EXTRA[@]}")
say "raw SQLite floor: $SQ_FLOOR"
rm -f "$WORK"/floor.db*

# --- 2. PostgreSQL ingest and COPY through psql ---------------------------------------------------

PG_NOTE=
PG_VER=
if [ "$PG" = 1 ] && [ "$(id -u)" -eq 0 ]; then
	PGDATA_DIR=$WORK/pg/data
	PGPORT=$(free_port)
	mkdir -p "$WORK/pg"
	chmod 755 "$WORK/pg"
	bash "$ROOT/scripts/pg.sh" start "$PGDATA_DIR" "$PGPORT" >/dev/null 2>"$WORK/pg.err" ||
		die "PostgreSQL did not start: $(tail -3 "$WORK/pg.err")"
	PGBIN=$(dirname "$(printf '%s\n' /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1)")
	PG_VER=$("$PGBIN/psql" -XtAq "postgresql://postgres@127.0.0.1:$PGPORT/postgres" -c 'SHOW server_version' | cut -d' ' -f1)
	psql_do() { "$PGBIN/psql" -XtAq -v ON_ERROR_STOP=1 "postgresql://postgres@127.0.0.1:$PGPORT/$1" "${@:2}"; }
	pg_cpu() { # ticks of the postmaster and its children (backends, writer, checkpointer...)
		local pm s=0 p
		pm=$(head -1 "$PGDATA_DIR/postmaster.pid")
		for p in $pm $(pgrep -P "$pm"); do s=$((s + $(cpu_ticks "$p"))); done
		echo $s
	}
	for t in $THREADS; do
		psql_do postgres -c "CREATE DATABASE mamori_t$t" >/dev/null
		fresh "pg-t$t"
		rm -f "$WORK/pg-t$t"/mamori.db* "$WORK/pg-t$t/initial-admin.json"
		start_server "pg-t$t" "$WORK/pg-t$t" --ingest-threads "$t" \
			--store "postgresql://postgres@127.0.0.1:$PGPORT/mamori_t$t"
		# A new store knows no agents: enroll the ingesting ones again (same CA).
		"$BIN/mamori-loadgen" enroll --url "$URL" --token "$(new_token)" \
			--count "$INGEST_AGENTS" --out "$WORK/agents-pg-t$t" >/dev/null 2>"$WORK/enroll-pg.err" ||
			die "PostgreSQL enrollment failed"
		p0=$(pg_cpu)
		ingest "pg-t$t" "$WORK/agents-pg-t$t"
		PGR[$t.line]=$ING
		PGR[$t.cpu]=$ING_CPU
		PGR[$t.lgcpu]=$ING_LG_CPU
		PGR[$t.pgcpu]=$(($(pg_cpu) - p0))
		PGR[$t.hwm]=$(status_kb "$SPID" VmHWM)
		stop_server
		PGR[$t.rows]=$(psql_do "mamori_t$t" -c 'SELECT count(*) FROM events')
		rm -rf "${WORK:?}/pg-t$t"
	done
	PG_FLOOR_ROWS=$(field "${PGR[$T1.line]}" events)
	# COPY of the same rows into the server's schema, one transaction per batch with the batch
	# sequence upsert, through one psql connection.
	psql_do postgres -c "CREATE DATABASE floor" >/dev/null
	python3 - "$WORK" "$WORK/rows.ndjson" "$WORK/pg_floor.sql" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[1])
from rows import rows
r = rows(sys.argv[2])
day = 86400 * 10**9
days = sorted({x[0] // day for x in r} | {time.time_ns() // day})
with open(sys.argv[3], "w") as f:
    f.write("CREATE TABLE events (id BIGSERIAL NOT NULL, ts BIGINT NOT NULL, agent_id TEXT,"
            " host TEXT, action TEXT, category TEXT, entity_id TEXT, parent_entity_id TEXT,"
            " pid BIGINT, name TEXT, exe TEXT, hash TEXT, path TEXT, src_ip TEXT, dst_ip TEXT,"
            " dst_port BIGINT, user_name TEXT, dns TEXT, doc JSONB NOT NULL, PRIMARY KEY (id, ts))"
            " PARTITION BY RANGE (ts);\n")
    for q in ["events_ts ON events (ts)", "events_host_ts ON events (host, ts)",
              "events_entity ON events (entity_id)",
              "events_parent ON events (parent_entity_id) WHERE parent_entity_id IS NOT NULL",
              "events_hash ON events (hash) WHERE hash IS NOT NULL",
              "events_dst_ip ON events (dst_ip) WHERE dst_ip IS NOT NULL",
              "events_path ON events (path) WHERE path IS NOT NULL"]:
        f.write("CREATE INDEX %s;\n" % q)
    f.write("CREATE TABLE batches (agent_id TEXT NOT NULL, epoch TEXT NOT NULL,"
            " last_seq BIGINT NOT NULL, PRIMARY KEY (agent_id, epoch));\n")
    for d in range(days[0] - 1, days[-1] + 2):
        f.write("CREATE TABLE events_%d PARTITION OF events FOR VALUES FROM (%d) TO (%d);\n"
                % (d, d * day, (d + 1) * day))
PY
	psql_do floor -f "$WORK/pg_floor.sql" >/dev/null
	cat >"$WORK/pg_copy.py" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from rows import COLS, rows
r = rows(sys.argv[2])
total, chunk = int(sys.argv[3]), int(sys.argv[4])
def f(v):
    if v is None:
        return "\\N"
    return (str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))
blocks = ["".join("\t".join(f(v) for v in row) + "\n" for row in r[i:i + chunk])
          for i in range(0, len(r), chunk)]
out, done, k = sys.stdout, 0, 0
while done < total:
    k += 1
    out.write("BEGIN;\nSELECT last_seq FROM batches WHERE agent_id = 'floor' AND epoch = 'e';\n"
              "COPY events (%s) FROM STDIN;\n" % COLS)
    out.write(blocks[(k - 1) % len(blocks)])
    out.write("\\.\nINSERT INTO batches VALUES ('floor', 'e', %d) ON CONFLICT (agent_id, epoch)"
              " DO UPDATE SET last_seq = excluded.last_seq;\nCOMMIT;\n" % k)
    done += chunk
print(done, file=sys.stderr)
PY
	say "PostgreSQL COPY floor: $PG_FLOOR_ROWS rows"
	PG_FLOOR_DONE=$(python3 "$WORK/pg_copy.py" "$WORK" "$WORK/rows.ndjson" "$PG_FLOOR_ROWS" "$BATCH" \
		2>&1 >"$WORK/pg_copy.sql")
	t1=$(date +%s.%N)
	psql_do floor -f "$WORK/pg_copy.sql" >/dev/null
	t2=$(date +%s.%N)
	PG_FLOOR_S=$(awk -v a="$t1" -v b="$t2" 'BEGIN {printf "%.2f", b - a}')
	PG_FLOOR_RATE=$(awk -v n="$PG_FLOOR_DONE" -v s="$PG_FLOOR_S" 'BEGIN {printf "%.0f", n / s}')
	rm -f "$WORK/pg_copy.sql"
	say "PostgreSQL COPY floor: $PG_FLOOR_RATE rows/s"
	bash "$ROOT/scripts/pg.sh" stop "$PGDATA_DIR" >/dev/null 2>&1 || true
	PGDATA_DIR=
	rm -rf "${WORK:?}/pg"
elif [ "$PG" = 1 ]; then
	PG_NOTE="skipped: PostgreSQL runs as user postgres, which needs root"
else
	PG_NOTE="skipped (PIPE_PG=0)"
fi

# --- 3. AGENTS concurrent agents holding a long poll on one node ---------------------------------

fresh hold
start_server hold "$WORK/hold"
HOLD_RSS0=$(status_kb "$SPID" VmRSS)
say "holding $AGENTS long polls"
"$BIN/mamori-loadgen" hold --agents "$WORK/agents" --url "$URL" --count "$AGENTS" \
	--seconds "$HOLD_S" >"$WORK/hold.out" 2>"$WORK/hold.err" &
HOLD_PID=$!
PIDS+=("$HOLD_PID")
for _ in $(seq 1 6000); do
	grep -q '^event=established' "$WORK/hold.out" 2>/dev/null && break
	kill -0 "$HOLD_PID" 2>/dev/null || break
	sleep 0.1
done
HOLD_EST=$(grep '^event=established' "$WORK/hold.out" || true)
[ -n "$HOLD_EST" ] || die "hold: polls not established: $(tail -3 "$WORK/hold.err")"
sleep 5
HOLD_RSS=$(status_kb "$SPID" VmRSS)
HOLD_HWM=$(status_kb "$SPID" VmHWM)
HOLD_FDS=$(ls "/proc/$SPID/fd" | wc -l)
HOLD_POLLS=$(api GET /stats | jget polls_held)
# A command to one of them: delivered into its held poll at once, answered by the simulated
# agent (bench/loadgen.c answers pings as the agent does).
PING_T0=$(date +%s.%N)
PING=$(api POST "/hosts/$PING_HOST/commands" '{"type":"ping","wait":10}')
PING_T1=$(date +%s.%N)
PING_S=$(awk -v a="$PING_T0" -v b="$PING_T1" 'BEGIN {printf "%.3f", b - a}')
PING_STATUS=$(echo "$PING" | jget status)
PING_DELIVER_MS=$(echo "$PING" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["delivered_at"] - d["created_at"] if d.get("delivered_at") else "")')
PING_RTT=$(echo "$PING" | jget rtt_ms)
# What 10 s of holding costs the server when nothing else happens.
c0=$(cpu_ticks "$SPID")
sleep 10
HOLD_IDLE_CORES=$(cores $(($(cpu_ticks "$SPID") - c0)) 10)
# Ingest from 100 of the held agents (their own connections) while the polls stay held.
"$BIN/mamori-loadgen" ingest --agents "$WORK/agents" --url "$URL" --agents-used 100 \
	--batch "$BATCH" --inflight 4 --duration 20 >"$WORK/hold-ingest.out" 2>/dev/null || true
HOLD_ING=$(grep '^mode=ingest' "$WORK/hold-ingest.out" || true)
HOLD_POLLS2=$(api GET /stats | jget polls_held)
HOLD_HWM2=$(status_kb "$SPID" VmHWM)
wait "$HOLD_PID" || true
HOLD_LINE=$(grep '^mode=hold' "$WORK/hold.out" || true)
stop_server
say "held $(field "$HOLD_EST" held) polls: server RSS $(mib "$HOLD_RSS") MiB, ping $PING_STATUS in ${PING_S}s"
rm -rf "${WORK:?}/hold"

# --- 4. event on host to searchable, with the real agent -----------------------------------------

fresh lat
start_server lat "$WORK/lat"
"$BIN/mamori-agent" enroll --state "$WORK/agent" --host-name lat-host "$URL" "$(new_token)" \
	>/dev/null 2>>"$WORK/agent.log" || die "agent enrollment failed"
mkfifo "$WORK/feed"
sleep 100000 >"$WORK/feed" & # keeps the FIFO open between writers
PIDS+=($!)
"$BIN/mamori-agent" run --state "$WORK/agent" --replay "$WORK/feed" --host-name lat-host \
	>>"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
cat >"$WORK/latency.py" <<'PY'
# Writes events with a unique process.entity_id and the wall-clock @timestamp into the agent's
# replay FIFO and polls the search API every 20 ms until each is found. Modes: "idle" (one event,
# then nothing until it is found), "stream" (the host also emits FILLER events/s around it).
import json, os, random, ssl, sys, threading, time, urllib.parse, urllib.request
url, ca, token, fifo, mode, n, filler = sys.argv[1:8]
n, filler = int(n), int(filler)
ctx = ssl.create_default_context(cafile=ca)
fd = os.open(fifo, os.O_WRONLY)
lock = threading.Lock()
def event(entity):
    now = time.time_ns()
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9)) + ".%09dZ" % (now % 10**9)
    return (json.dumps({"@timestamp": ts, "event": {"kind": "event", "category": ["process"],
            "type": ["start"], "action": "exec"}, "host": {"name": "lat-host"},
            "process": {"pid": random.randint(1000, 99999), "entity_id": entity,
                        "executable": "/usr/bin/true", "name": "true", "args": ["true"],
                        "parent": {"pid": 1, "entity_id": "lat-parent"}}},
            separators=(",", ":")) + "\n").encode()
def write(b):
    with lock:
        os.write(fd, b)  # one line, under PIPE_BUF: atomic
def found(entity):
    q = urllib.parse.urlencode({"q": "process.entity_id:" + entity, "count": "1"})
    req = urllib.request.Request(url + "/api/v1/events?" + q,
                                 headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return json.load(r).get("count", 0) > 0
stop = False
def fill():
    i = 0
    while not stop:
        write(event("fill-%s-%d" % (mode, i)))
        i += 1
        time.sleep(1.0 / filler)
if filler:
    threading.Thread(target=fill, daemon=True).start()
    time.sleep(2)
tag = "%x" % random.getrandbits(40)
lat = []
for i in range(n):
    ent = "lat-%s-%s-%d" % (mode, tag, i)
    t0 = time.time()
    write(event(ent))
    while not found(ent):
        if time.time() - t0 > 60:
            sys.exit("event %s not searchable after 60 s" % ent)
        time.sleep(0.02)
    lat.append(time.time() - t0)
    # A sample is found just after a batch was sealed; a pause uniform over one batch period
    # (1 s) puts the next one at a uniform point of the agent's batch timer.
    time.sleep(random.uniform(0, 1.0))
stop = True
lat.sort()
def p(q):
    return lat[min(len(lat) - 1, max(0, -(-len(lat) * q // 100) - 1))]
print("mode=%s samples=%d p50_s=%.3f p90_s=%.3f p99_s=%.3f max_s=%.3f min_s=%.3f"
      % (mode, len(lat), p(50), p(90), p(99), lat[-1], lat[0]))
PY
for _ in $(seq 1 150); do
	[ "$(api GET /hosts/lat-host | jget status)" = online ] && break
	sleep 0.2
done
lat_run() { # lat_run MODE FILLER
	python3 "$WORK/latency.py" "$URL" "$CA" "$TOKEN" "$WORK/feed" "$1" "$LAT_N" "$2" ||
		die "latency $1 failed: $(tail -5 "$WORK/agent.log")"
}
say "latency: $LAT_N events, idle host"
LAT_IDLE=$(lat_run idle 0)
say "$LAT_IDLE"
say "latency: $LAT_N events in a stream of 200 events/s"
LAT_STREAM=$(lat_run stream 200)
say "$LAT_STREAM"
# The server busy ingesting from the simulated agents at half its measured SQLite rate.
HALF=$(awk -v r="$(field "${SQ[$T1.line]}" events_per_s)" 'BEGIN {printf "%.0f", r / 2}')
"$BIN/mamori-loadgen" ingest --agents "$WORK/agents" --url "$URL" --agents-used "$INGEST_AGENTS" \
	--batch "$BATCH" --inflight "$INFLIGHT" --duration 3600 --rate "$HALF" \
	>"$WORK/lat-load.out" 2>/dev/null &
LOAD_PID=$!
PIDS+=("$LOAD_PID")
sleep 5
say "latency: $LAT_N events in a stream of 200 events/s, server ingesting $HALF events/s"
LAT_LOADED=$(lat_run loaded 200)
say "$LAT_LOADED"
kill "$LOAD_PID" 2>/dev/null || true
kill -INT "$AGENT_PID" 2>/dev/null || true
wait "$AGENT_PID" 2>/dev/null || true
stop_server

# --- 5. zero loss: tests/e2e/pipeline_faults.sh ----------------------------------------------------

FAULTS_TEXT=
if [ "$FAULTS" = 1 ]; then
	say "tests/e2e/pipeline_faults.sh with MAMORI_OUTAGE_S=600 (about 12 minutes)"
	FAULTS_TEXT="run here: MAMORI_BIN=$BIN MAMORI_OUTAGE_S=600 bash tests/e2e/pipeline_faults.sh"$'\n'
	FAULTS_TEXT+=$(MAMORI_BIN=$BIN MAMORI_OUTAGE_S=600 bash "$ROOT/tests/e2e/pipeline_faults.sh" 2>&1;
		echo "exit status $?")
elif [ -n "$FAULTS_LOG" ]; then
	FAULTS_TEXT=$(cat "$FAULTS_LOG")
fi
LOAD_END=$(loadavg)

# --- report ----------------------------------------------------------------------------------------

met() { if [ "$1" = 1 ]; then echo met; else echo "**missed**"; fi; }
SQ1=$(field "${SQ[$T1.line]}" events_per_s)
SQ_BEST=$SQ1
SQ_BEST_T=$T1
for t in $THREADS; do
	r=$(field "${SQ[$t.line]}" events_per_s)
	[ "$r" -gt "$SQ_BEST" ] && SQ_BEST=$r && SQ_BEST_T=$t
done
HELD=$(field "$HOLD_EST" held)
P99_IDLE=$(field "$LAT_IDLE" p99_s)
P99_STREAM=$(field "$LAT_STREAM" p99_s)
P99_LOADED=$(field "$LAT_LOADED" p99_s)
LOSS_OK=1
for t in $THREADS; do
	[ "${SQ[$t.rows]}" = "$(field "${SQ[$t.line]}" events)" ] || LOSS_OK=0
	if [ -z "$PG_NOTE" ]; then [ "${PGR[$t.rows]}" = "$(field "${PGR[$t.line]}" events)" ] || LOSS_OK=0; fi
done
FAULTS_OK=0
if [ -n "$FAULTS_TEXT" ] && grep -q 'ok: server SIGKILL mid-stream' <<<"$FAULTS_TEXT" &&
	grep -q 'outage: stored=' <<<"$FAULTS_TEXT" && ! grep -q '^FAIL' <<<"$FAULTS_TEXT"; then
	FAULTS_OK=1
fi

CMD="bash bench/pipeline.sh"
for v in PIPE_AGENTS PIPE_INGEST_AGENTS PIPE_BATCH PIPE_INFLIGHT PIPE_SECONDS PIPE_THREADS PIPE_PG PIPE_HOLD_S PIPE_LATENCY_SAMPLES PIPE_FAULTS PIPE_FAULTS_LOG; do
	[ -n "${!v:-}" ] && CMD="$v=\"${!v}\" $CMD"
done

ing_row() { # ing_row STORE T LINE CPU LGCPU HWM ROWS [STORE_CPU]
	local secs
	secs=$(field "$3" seconds)
	printf '| %s | %s | **%s** | %s | %s / %s | %s | %s | %s | %s | %s of %s |\n' "$1" "$2" \
		"$(field "$3" events_per_s)" "$(field "$3" batches_per_s)" "$(field "$3" ack_p50_ms)" \
		"$(field "$3" ack_p99_ms)" "$(cores "$4" "$secs")" "${8:-}" "$(mib "$6")" \
		"$(cores "$5" "$secs")" "$7" "$(field "$3" events)"
}

{
	echo "# Pipeline benchmark"
	echo
	echo "Run $DATE at commit $COMMIT on $(nproc) × $CPU_MODEL, $MEM_GIB GiB, kernel $(uname -r)."
	echo "Load average at start $LOAD_START, at end $LOAD_END (the machine is shared: compare"
	echo "figures within this run). SQLite $SQLITE_VER${PG_VER:+, PostgreSQL $PG_VER}, OpenSSL $(openssl version | cut -d' ' -f2)."
	echo
	echo '```sh'
	echo "$CMD"
	echo '```'
	echo
	echo "## Against the targets"
	echo
	echo "| target | result | status |"
	echo "|---|---|---|"
	echo "| ≥ 100,000 events/s sustained into SQLite | $SQ1 events/s with --ingest-threads $T1, best $SQ_BEST (threads $SQ_BEST_T), over ${SECS} s | $(met $((SQ_BEST >= 100000))) |"
	echo "| $AGENTS concurrent agents on one node under 1 GB RSS | $HELD held; server VmRSS $(mib "$HOLD_RSS") MiB, peak $(mib "$HOLD_HWM") MiB ($(mib "$HOLD_HWM2") MiB with ingest on top) | $(met $((HELD == AGENTS && HOLD_HWM2 < 976563))) |"
	echo "| searchable p99 ≤ 2 s | idle host $P99_IDLE s, host streaming $P99_STREAM s, server loaded $P99_LOADED s | $(met "$(awk -v a="$P99_IDLE" -v b="$P99_STREAM" -v c="$P99_LOADED" 'BEGIN {print (a <= 2 && b <= 2 && c <= 2)}')") |"
	if [ -n "$FAULTS_TEXT" ]; then
		echo "| zero loss across a server SIGKILL and a ten-minute outage | tests/e2e/pipeline_faults.sh (below); every ingest run here stored exactly what was acked | $(met $((FAULTS_OK && LOSS_OK))) |"
	else
		echo "| zero loss across a server SIGKILL and a ten-minute outage | not run here (PIPE_FAULTS=1 or PIPE_FAULTS_LOG); every ingest run here stored exactly what was acked: $([ $LOSS_OK = 1 ] && echo yes || echo NO) | n/a |"
	fi
	echo
	echo "## 1–2. Ingest: $INGEST_AGENTS simulated agents, batches of $BATCH events, $INFLIGHT in flight, ${SECS} s"
	echo
	echo "Each agent has its own certificate, TLS connection, random epoch and increasing seq; a batch"
	echo "is zstd NDJSON of realistic exec, file and network events ($(grep -o '[0-9]* bytes/event' "$WORK/sqlite-t$T1.err" | head -1),"
	echo "$(grep -o '[0-9.]*% after zstd' "$WORK/sqlite-t$T1.err" | head -1)). Events/s counts what the server acknowledged as stored over the"
	echo "whole run; \"stored\" is the row count in the database afterwards. Server CPU is in cores"
	echo "(utime + stime over the run ÷ wall time), RSS is the server's VmHWM."
	echo
	echo "| store | ingest threads | events/s | batches/s | ack p50 / p99 ms | server CPU | store CPU | server peak RSS MiB | loadgen CPU | stored |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for t in $THREADS; do
		ing_row SQLite "$t" "${SQ[$t.line]}" "${SQ[$t.cpu]}" "${SQ[$t.lgcpu]}" "${SQ[$t.hwm]}" "${SQ[$t.rows]}" "(in server)"
	done
	if [ -z "$PG_NOTE" ]; then
		for t in $THREADS; do
			ing_row PostgreSQL "$t" "${PGR[$t.line]}" "${PGR[$t.cpu]}" "${PGR[$t.lgcpu]}" "${PGR[$t.hwm]}" "${PGR[$t.rows]}" \
				"$(cores "${PGR[$t.pgcpu]}" "$(field "${PGR[$t.line]}" seconds)")"
		done
	fi
	echo
	echo "Peers in the same run (same rows: the loadgen's templates decoded as the server decodes them,"
	echo "one transaction per $BATCH rows with the batch-sequence read and upsert, fresh database):"
	echo
	echo "| peer | rows | rows/s | server ÷ peer |"
	echo "|---|---:|---:|---:|"
	echo "| raw SQLite inserts (python3 sqlite3 executemany, the server's schema, indexes and pragmas) | $(field "$SQ_FLOOR" rows) | $(field "$SQ_FLOOR" rows_per_s) | $(ratio "$SQ1" "$(field "$SQ_FLOOR" rows_per_s)") (threads $T1) |"
	if [ -z "$PG_NOTE" ]; then
		echo "| PostgreSQL COPY through one psql connection (the server's schema and indexes) | $PG_FLOOR_DONE | $PG_FLOOR_RATE | $(ratio "$(field "${PGR[$T1.line]}" events_per_s)" "$PG_FLOOR_RATE") (threads $T1) |"
	else
		echo "| PostgreSQL | $PG_NOTE | | |"
	fi
	echo
	echo "Acknowledged events per second, minimum / median (first and last second left out), and 503"
	echo "answers (queue full or store busy, retried by the agents):"
	echo
	for t in $THREADS; do
		echo "- SQLite, threads $t: $(field "${SQ[$t.line]}" min_1s) / $(field "${SQ[$t.line]}" median_1s); 503: $(field "${SQ[$t.line]}" busy_503)"
	done
	if [ -z "$PG_NOTE" ]; then
		for t in $THREADS; do
			echo "- PostgreSQL, threads $t: $(field "${PGR[$t.line]}" min_1s) / $(field "${PGR[$t.line]}" median_1s); 503: $(field "${PGR[$t.line]}" busy_503)"
		done
	fi
	echo
	echo "## 3. $AGENTS agents holding a command long poll on one node"
	echo
	echo "| measure | value |"
	echo "|---|---|"
	echo "| enrollment of $AGENTS agents (32 in flight) | $(field "$ENROLL" seconds) s, $(field "$ENROLL" per_s)/s |"
	echo "| polls established (TLS handshakes at most 100 at once) | $(field "$HOLD_EST" held) of $AGENTS after $(field "$HOLD_EST" ramp_s) s; server reports polls_held=$HOLD_POLLS |"
	echo "| server VmRSS before / with the polls held | $(mib "$HOLD_RSS0") MiB / $(mib "$HOLD_RSS") MiB ($(awk -v a="$HOLD_RSS" -v b="$HOLD_RSS0" -v n="$AGENTS" 'BEGIN {printf "%.1f", (a - b) / n}') KiB per held agent) |"
	echo "| server VmHWM with the polls held | $(mib "$HOLD_HWM") MiB; open descriptors $HOLD_FDS |"
	echo "| command to $PING_HOST (ping, wait 10) | status $PING_STATUS, delivered ${PING_DELIVER_MS} ms after queueing, rtt ${PING_RTT} ms, API call ${PING_S} s |"
	echo "| server CPU while holding, idle | $HOLD_IDLE_CORES cores |"
	echo "| ingest by 100 of them meanwhile (inflight 4, 20 s) | $(field "$HOLD_ING" events_per_s) events/s; polls_held afterwards $HOLD_POLLS2; server VmHWM $(mib "$HOLD_HWM2") MiB |"
	echo "| loadgen at the end of the hold | $(echo "$HOLD_LINE" | sed 's/^mode=hold //') |"
	echo
	echo "## 4. Event on host to searchable (real mamori-agent, default configuration)"
	echo
	echo "\`mamori-agent run --replay FIFO\` with the default uplink settings (a batch is sealed at 4,000"
	echo "events, 1 MiB or 1,000 ms after its first event). Each sample writes one exec event with a"
	echo "unique process.entity_id, then polls \`GET /api/v1/events?q=process.entity_id:<id>&count=1\`"
	echo "every 20 ms until it is counted; latency = found − written (wall clock, same host)."
	echo
	echo "| scenario | samples | p50 s | p90 s | p99 s | max s |"
	echo "|---|---:|---:|---:|---:|---:|"
	for l in "idle host: nothing else written|$LAT_IDLE" "host streaming 200 events/s|$LAT_STREAM" "host streaming 200 events/s, server ingesting $HALF events/s from $INGEST_AGENTS simulated agents|$LAT_LOADED"; do
		line=${l#*|}
		printf '| %s | %s | %s | %s | %s | %s |\n' "${l%%|*}" "$(field "$line" samples)" "$(field "$line" p50_s)" \
			"$(field "$line" p90_s)" "$(field "$line" p99_s)" "$(field "$line" max_s)"
	done
	echo
	echo "## 5. Zero loss: tests/e2e/pipeline_faults.sh"
	echo
	if [ -n "$FAULTS_TEXT" ]; then
		echo '```'
		echo "$FAULTS_TEXT"
		echo '```'
	else
		echo "Not run here; run \`MAMORI_BIN=build/release/bin MAMORI_OUTAGE_S=600 bash tests/e2e/pipeline_faults.sh\`."
	fi
	echo
	echo "## Raw results"
	echo
	echo '```'
	echo "$ENROLL"
	for t in $THREADS; do
		echo "sqlite threads=$t: ${SQ[$t.line]}"
		[ -n "$PG_NOTE" ] || echo "postgresql threads=$t: ${PGR[$t.line]}"
	done
	echo "sqlite floor: $SQ_FLOOR"
	[ -n "$PG_NOTE" ] || echo "postgresql copy floor: rows=$PG_FLOOR_DONE seconds=$PG_FLOOR_S rows_per_s=$PG_FLOOR_RATE"
	echo "$HOLD_EST"
	echo "$HOLD_LINE"
	echo "hold ingest: $HOLD_ING"
	echo "ping: $PING"
	echo "$LAT_IDLE"
	echo "$LAT_STREAM"
	echo "$LAT_LOADED"
	echo '```'
} >"$WORK/report.md"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/report.md" "$OUT"
cat "$OUT"
say "report written to $OUT"
