#!/usr/bin/env python3
"""Run time of the agent's BPF programs between two `bpftool -j prog show` snapshots.

usage: bpf_stats.py AGENT_PID BEFORE_JSON AFTER_JSON
Prints one key=value line for report.py: kind=bpfstats status=ok progs=name:runs:ns,...
Only programs the agent holds open count (bpftool lists the holders of each program); when this
bpftool does not list holders, every program that ran counts, and owner=unknown says so.
"""
import json
import sys


def main():
    pid, before, after = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    old = {p["id"]: p for p in before}
    holders_known = any("pids" in p for p in after)
    progs = []
    for p in after:
        b = old.get(p["id"])
        if b is None:
            continue
        if holders_known and all(str(h.get("pid")) != pid for h in p.get("pids", [])):
            continue
        runs = p.get("run_cnt", 0) - b.get("run_cnt", 0)
        ns = p.get("run_time_ns", 0) - b.get("run_time_ns", 0)
        if runs > 0:
            progs.append("%s:%d:%d" % (p.get("name", "?"), runs, ns))
    print("kind=bpfstats status=ok owner=%s progs=%s" % (
        "agent" if holders_known else "unknown", ",".join(progs)))


if __name__ == "__main__":
    main()
