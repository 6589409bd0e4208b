#!/usr/bin/env python3
"""Counts the events a bench run expects in an agent's ECS JSON output (one event per line).

usage: count_events.py EVENTS.jsonl [--exe PATH] [--dir DIR] [--port PORT]
Prints one line of key=value pairs: execs (exec events whose process.executable is PATH),
exec_all, mods (modification events under DIR/), connects (connection_attempted to PORT),
bad_lines, and the last agent_drops event's kernel, queue, shed and total (-1 when missing).
"""
import argparse
import json


def get(ev, dotted):
    """ECS fields may arrive nested ({"process": {"pid": 1}}) or dotted ("process.pid")."""
    if dotted in ev:
        return ev[dotted]
    cur = ev
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("events")
    ap.add_argument("--exe")
    ap.add_argument("--dir")
    ap.add_argument("--port", type=int)
    a = ap.parse_args()
    prefix = a.dir.rstrip("/") + "/" if a.dir else None
    n = {"execs": 0, "exec_all": 0, "mods": 0, "connects": 0, "bad_lines": 0, "lines": 0}
    drops = {"kernel": -1, "queue": -1, "shed": -1, "total": -1}
    with open(a.events, "rb") as f:
        for raw in f:
            n["lines"] += 1
            try:
                ev = json.loads(raw)
            except ValueError:
                n["bad_lines"] += 1
                continue
            if not isinstance(ev, dict):
                n["bad_lines"] += 1
                continue
            action = get(ev, "event.action")
            if action == "exec":
                n["exec_all"] += 1
                if a.exe and get(ev, "process.executable") == a.exe:
                    n["execs"] += 1
            elif action == "modification":
                path = get(ev, "file.path")
                if prefix and isinstance(path, str) and path.startswith(prefix):
                    n["mods"] += 1
            elif action == "connection_attempted":
                if a.port is not None and get(ev, "destination.port") == a.port:
                    n["connects"] += 1
            elif action == "agent_drops":
                for k in ("kernel", "queue", "shed"):
                    v = get(ev, "mamori.drops." + k)
                    drops[k] = v if isinstance(v, int) else -1
                v = get(ev, "mamori.events.total")
                drops["total"] = v if isinstance(v, int) else -1
    out = dict(n)
    out.update(drops)
    print(" ".join("%s=%s" % kv for kv in out.items()))


if __name__ == "__main__":
    main()
