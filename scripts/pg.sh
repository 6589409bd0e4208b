#!/usr/bin/env bash
# A throwaway PostgreSQL for tests and local runs: its own data directory, loopback only, trust
# authentication. Installs the server package when it is missing (as deps.sh does).
#   scripts/pg.sh start DIR [PORT]   initialise DIR if needed, start, print the URI (default 5433)
#   scripts/pg.sh stop DIR           stop it (no-op when it is not running)
#   scripts/pg.sh uri DIR            print the URI of the running server
# Only the URI goes to stdout; everything else goes to stderr or DIR/log.
set -euo pipefail

usage() {
	echo "usage: $0 start DIR [PORT] | stop DIR | uri DIR" >&2
	exit 2
}

[ $# -ge 2 ] || usage
CMD=$1
DIR=$(realpath -m -- "$2")
PORT=${3:-}
DB=mamori

pg_bin() {
	local d
	d=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
	[ -x "$d" ] && dirname "$d"
}

install_server() {
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "pg: installing postgresql" >&2
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >&2
	$sudo apt-get install -y -qq --no-install-recommends postgresql >&2
}

# Runs a server binary as the cluster's owner: user postgres when we are root (PostgreSQL
# refuses to run as root), else ourselves.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Port of the running server, from postmaster.pid (line 4); fails when it is not running.
running_port() {
	[ -f "$DIR/postmaster.pid" ] || return 1
	as_owner "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1 || return 1
	sed -n 4p "$DIR/postmaster.pid"
}

print_uri() {
	echo "postgresql://postgres@127.0.0.1:$1/$DB"
}

# Server processes must be able to reach DIR; /root and friends are not theirs to enter.
cd /

if [ "$CMD" = start ] && ! BIN=$(pg_bin); then
	install_server
fi
BIN=$(pg_bin) || {
	echo "pg: no PostgreSQL server found under /usr/lib/postgresql (run: $0 start DIR)" >&2
	exit 1
}

case "$CMD" in
start)
	if port=$(running_port); then
		print_uri "$port"
		exit 0
	fi
	if [ ! -f "$DIR/PG_VERSION" ]; then
		if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then
			echo "pg: $DIR exists, is not empty and is not a PostgreSQL data directory" >&2
			exit 1
		fi
		mkdir -p "$DIR"
		chmod 700 "$DIR"
		if [ "$(id -u)" -eq 0 ]; then
			chown postgres:postgres "$DIR"
		fi
		if ! as_owner test -w "$DIR"; then
			echo "pg: $DIR is not reachable by the server's user; pick a path under /tmp" >&2
			exit 1
		fi
		if ! out=$(as_owner "$BIN/initdb" -D "$DIR" -U postgres -A trust -E UTF8 --locale=C 2>&1)
		then
			echo "$out" >&2
			exit 1
		fi
		# Trust is only safe because nothing but loopback and DIR's socket can connect.
		as_owner tee -a "$DIR/postgresql.conf" >/dev/null <<EOF

# scripts/pg.sh
listen_addresses = '127.0.0.1'
port = ${PORT:-5433}
unix_socket_directories = '$DIR'
fsync = on
EOF
	fi
	opts=()
	[ -z "$PORT" ] || opts=(-o "-p $PORT")
	if ! as_owner "$BIN/pg_ctl" -D "$DIR" -w -t 60 -l "$DIR/log" "${opts[@]}" start >&2; then
		tail -n 20 "$DIR/log" >&2 || true
		exit 1
	fi
	port=$(running_port)
	exists=$(as_owner "$BIN/psql" -h "$DIR" -p "$port" -U postgres -d postgres -XtAq \
		-c "SELECT 1 FROM pg_database WHERE datname = '$DB'")
	if [ "$exists" != 1 ]; then
		as_owner "$BIN/createdb" -h "$DIR" -p "$port" -U postgres "$DB" >&2
	fi
	print_uri "$port"
	;;
stop)
	if running_port >/dev/null; then
		as_owner "$BIN/pg_ctl" -D "$DIR" -m fast -w stop >&2
	fi
	;;
uri)
	if ! port=$(running_port); then
		echo "pg: no server running in $DIR" >&2
		exit 1
	fi
	print_uri "$port"
	;;
*)
	usage
	;;
esac
