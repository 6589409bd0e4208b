#!/usr/bin/env bash
# False positives on the real sensor: an everyday developer and administrator workload (a C build
# with make and gcc, git, package queries, archives and copies, service status, ssh-keygen,
# monitoring, identity and system queries, find/grep, python, curl to a loopback web server...)
# runs on a host whose real agent sends to a real server, both evaluating the rule pack (rules/)
# and the built-in behaviour detections, and nothing at medium or higher may be raised for it.
# Only alerts caused by the workload's own process tree count; other activity on the machine is
# ignored. Needs root and BTF.
#   MAMORI_E2E_KEEP  directory to copy the events and alerts to
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/detect.bash"
need_root_bpf
[ -x "$MAMORI" ] || skip "no $MAMORI (build the mamori target)"
[ -d "$RULES" ] || fail "no rule pack at $RULES"

W=$WORK/work
mkdir -p "$W" "$WORK/home"
# The workload is a script of its own, so that everything it starts descends from one process.
cat >"$WORK/workload.sh" <<'SH'
# One command per line, as a person would type them; a missing tool is skipped, not a failure.
W=$1
cd "$W"
have() { command -v "$1" >/dev/null 2>&1; }
run() { "$@" >/dev/null 2>&1 || true; }

# Build a small C project with make and gcc, run its test, rebuild it.
mkdir -p proj/src
cat >proj/src/main.c <<'C'
#include <stdio.h>
int add(int a, int b) { return a + b; }
int main(void) { printf("%d\n", add(2, 3)); return add(2, 3) == 5 ? 0 : 1; }
C
printf 'CFLAGS = -O2 -Wall\nhello: src/main.c\n\t$(CC) $(CFLAGS) -o $@ $<\ntest: hello\n\t./hello\nclean:\n\trm -f hello\n.PHONY: test clean\n' >proj/Makefile
run make -C proj
run make -C proj test
run make -C proj clean
run make -C proj -j2
run gcc -O2 -Wall -o proj/hello2 proj/src/main.c
run ./proj/hello2
if have cmake; then
  printf 'cmake_minimum_required(VERSION 3.10)\nproject(hello C)\nadd_executable(hello src/main.c)\n' >proj/CMakeLists.txt
  run cmake -S proj -B proj/build
  run cmake --build proj/build
fi

# Git: a repository, commits, history, a local clone and a pull.
run git init -q repo
cp proj/src/main.c repo/
run git -C repo add main.c
run git -C repo -c user.name=Dev -c user.email=dev@example.org commit -q -m 'first commit'
echo '// more' >>repo/main.c
run git -C repo -c user.name=Dev -c user.email=dev@example.org commit -q -am 'second commit'
run git -C repo log --oneline
run git -C repo status --short
run git -C repo diff HEAD~1
run git clone -q repo clone
run git -C clone pull -q
run git -C clone branch -a

# Packages.
run dpkg -l
run dpkg -s coreutils
run apt-cache policy bash
run apt-cache show bash
run apt-get -s install curl

# Archives, copies, backups.
run tar czf proj.tgz proj
run tar tzf proj.tgz
mkdir -p restore
run tar xzf proj.tgz -C restore
run tar czf etc-backup.tgz /etc
run cp -a proj proj-copy
if have rsync; then run rsync -a proj/ proj-rsync/; else echo "skip: rsync is not installed"; fi
echo "notes" >notes.txt
run gzip -k notes.txt
base64 notes.txt >notes.b64 || true
run sha256sum notes.txt

# Services and logs.
if have systemctl; then
  run systemctl status cron
  run systemctl is-active ssh
  run systemctl restart cron
  run systemctl list-units --type=service
fi
have journalctl && run journalctl -n 20 --no-pager
run dmesg

# SSH and TLS keys.
run ssh-keygen -t ed25519 -N '' -q -f "$W/id_test"
run ssh-keygen -l -f "$W/id_test.pub"
mkdir -p "$HOME/.ssh"
run ssh-keygen -t ed25519 -N '' -q -f "$HOME/.ssh/id_ed25519"
run chmod 600 "$HOME/.ssh/id_ed25519"
run cat "$HOME/.ssh/id_ed25519.pub"
run ssh-keygen -y -f "$HOME/.ssh/id_ed25519"
run openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -subj /CN=dev.test -days 1

# Monitoring.
run ps aux
run ps -ef
run pgrep -a sshd
run sysctl kernel.randomize_va_space
run top -bn1
run df -h
run free -m
run uptime
run ss -tlnp
run ss -s
run ip addr
run ip route

# Identity and system.
run id
run whoami
run uname -a
run hostname
run cat /etc/os-release
run cat /etc/passwd
run getent passwd root
run groups
run date

# Files.
run find "$W" -name '*.c'
run grep -r add "$W/proj"
run grep -rn password proj
run find /etc -name '*.conf' -newer /etc/hostname
run ls -la "$W"
run du -sh "$W"
run stat proj/Makefile
run wc -l proj/src/main.c
run sort notes.txt
run diff -r proj proj-copy
run sed -i 's/notes/more notes/' notes.txt
run chmod 644 notes.txt
printf '#!/bin/sh\necho ok\n' >tool.sh
run chmod +x tool.sh
run ./tool.sh
echo 'aGVsbG8K' | base64 -d >/dev/null
echo "alias ll='ls -la'" >>"$HOME/.bashrc"
run ln -sf notes.txt notes.link
run mv notes.link notes2.link
run rm -f notes2.link

# Python and a local web server.
run python3 -c 'print(1)'
run python3 -m json.tool <<<'{"a": 1}'
python3 -m http.server 18765 --bind 127.0.0.1 >/dev/null 2>&1 &
srv=$!
for _ in $(seq 1 50); do curl -s -o /dev/null http://127.0.0.1:18765/ && break; sleep 0.1; done
run curl -s http://127.0.0.1:18765/
run curl -s -o "$W/index.html" http://127.0.0.1:18765/
have wget && run wget -q -O "$W/index2.html" http://127.0.0.1:18765/
kill "$srv" 2>/dev/null
wait "$srv" 2>/dev/null

# Python packaging: a virtual environment and a local package installed with pip.
if run python3 -m venv venv && [ -x venv/bin/pip ]; then
  mkdir -p pkg/mypkg
  echo 'X = 1' >pkg/mypkg/__init__.py
  printf '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "mypkg"\nversion = "0.1"\n' >pkg/pyproject.toml
  run venv/bin/pip install --no-index --no-build-isolation ./pkg
  run venv/bin/python -c 'import mypkg; print(mypkg.X)'
  run venv/bin/pip list
fi

# Node: a local dependency installed offline and package scripts.
if have npm; then
  mkdir -p web/dep
  echo '{"name": "dep", "version": "1.0.0", "main": "index.js"}' >web/dep/package.json
  echo 'module.exports = 41;' >web/dep/index.js
  cat >web/package.json <<'JSON'
{"name": "app", "version": "1.0.0",
 "scripts": {"build": "node -e \"console.log(require('dep') + 1)\"", "test": "echo tests passed"}}
JSON
  (cd web && run npm install --offline --no-audit --no-fund ./dep && run npm run build && run npm test)
fi

# Scheduling and privileges.
if have crontab; then run crontab -l; else echo "skip: crontab is not installed"; fi
if have sudo; then run sudo -n true; else echo "skip: sudo is not installed"; fi
run openssl version
run openssl rand -hex 8
SH

out=$WORK/events.jsonl
start_live
(cd "$W" && HOME=$WORK/home env MAMORI_E2E_ROOT=everyday bash "$WORK/workload.sh" "$W") </dev/null ||
  fail "workload exited $?"
sleep 1 # late file events

alerts=$WORK/alerts.jsonl
stop_live "$out" "$alerts"
attribute_alerts "$out" "$alerts" "$WORK/attributed.jsonl"
[ -z "${MAMORI_E2E_KEEP:-}" ] || { mkdir -p "$MAMORI_E2E_KEEP" &&
  cp "$out" "$alerts" "$WORK/attributed.jsonl" "$WORK/workload.sh" "$MAMORI_E2E_KEEP/"; }

n_exec=$(jcount "$out" "g(e,'event.action')=='exec' and (g(e,'process.working_directory') or '').startswith('$W')")
rc=0
python3 - "$WORK/attributed.jsonl" <<'PY' || rc=$?
import collections, json, sys
LEVELS = ['informational', 'low', 'medium', 'high', 'critical']
bad, quiet, elsewhere, builtin = [], collections.Counter(), collections.Counter(), collections.Counter()
for line in open(sys.argv[1], encoding='utf-8'):
    a = json.loads(line)
    sev = a['rule']['severity']
    if a.get('e2e_root') != 'everyday':
        if LEVELS.index(sev) >= 2:
            elsewhere[a['rule']['name']] += 1
        continue
    # Built-in detections (behaviour, fleet prevalence) are judged like the pack's rules.
    if not a.get('e2e_pack') and LEVELS.index(sev) < 2:
        builtin['%s (%s, %s)' % (a['rule']['name'], sev, a['rule'].get('ruleset'))] += 1
        continue
    if LEVELS.index(sev) >= 2:
        bad.append(a)
    else:
        quiet['%s (%s)' % (a['rule']['name'], sev)] += 1
print('workload alerts below medium (allowed):')
for k, v in sorted(quiet.items()):
    print('  %4d  %s' % (v, k))
if builtin:
    print('built-in detections below medium (allowed):')
    for k, v in sorted(builtin.items()):
        print('  %4d  %s' % (v, k))
if elsewhere:
    print('medium+ alerts from other activity on this machine (not counted): %d' % sum(elsewhere.values()))
if bad:
    print('\nworkload alerts at medium or higher:')
    for a in bad:
        ev = (a.get('mamori', {}).get('events') or [{}])[0]
        p = ev.get('process', {})
        what = p.get('command_line') or ''
        if ev.get('file', {}).get('path'):
            what = '%s: %s (by %s)' % (ev['event']['action'], ev['file']['path'], what or p.get('pid'))
        print('  %-8s %s | %s' % (a['rule']['severity'], a['rule']['name'], what[:200]))
    sys.exit(1)
PY
echo "workload: $n_exec exec events captured"
[ "$rc" -eq 0 ] || fail "everyday workload raised alerts at medium or higher"
[ "$n_exec" -ge 60 ] || fail "only $n_exec exec events: the workload did not run"
echo "ok: the rule pack raised nothing at medium or higher for the everyday workload"
