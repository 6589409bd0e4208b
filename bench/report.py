#!/usr/bin/env python3
"""Turns the key=value lines that bench/run-all.sh collects into the markdown report.

usage: report.py --results FILE --problems FILE --warnings FILE [--audit-note TEXT]
"""
import argparse
import random
import statistics

TARGET_EXEC_SLOWDOWN_PCT = 3.0
TARGET_RSS_MIB = 30.0


def parse_line(line):
    out = {}
    for tok in line.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    return out


def num(v, default=None):
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


QUIET_STEAL = 2.0  # percent of the machine's CPU time given to other guests during a storm


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=".3f", none="n/a"):
    return none if x is None else format(x, spec)


def pct(ratio):
    return "n/a" if ratio is None else "%+.1f%%" % ((ratio - 1.0) * 100.0)


def interval(pairs, stat, n=4000, level=0.90):
    """Bootstrap interval of stat over (baseline, condition) pairs: whole rounds are resampled,
    so the pairing survives. Fixed seed: the same data always gives the same interval."""
    if len(pairs) < 3:
        return None
    rng = random.Random(1)
    vals = sorted(stat([rng.choice(pairs) for _ in pairs]) for _ in range(n))
    lo = vals[int((1 - level) / 2 * n)]
    hi = vals[int((1 + level) / 2 * n) - 1]
    return lo, hi


def ratio_of_medians_of(pairs):
    return med([c for _, c in pairs]) / med([b for b, _ in pairs])


def median_ratio_of(pairs):
    return med([c / b for b, c in pairs])


def pct_interval(iv):
    return "n/a" if iv is None else "%s to %s" % (pct(iv[0]), pct(iv[1]))


def verdict(ok):
    return "**PASS**" if ok else "**MISS**"


def check(ok):
    return "**ok**" if ok else "**FAIL**"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--problems", required=True)
    ap.add_argument("--warnings", required=True)
    ap.add_argument("--audit-note", default="")
    a = ap.parse_args()

    meta, runs, ovl, records, stopped, bpfstats = {}, [], {}, {}, {}, {}
    with open(a.results) as f:
        for line in f:
            d = parse_line(line)
            kind = d.get("kind")
            if kind == "meta":
                meta[d["key"]] = d.get("value", "")
            elif kind == "run":
                runs.append(d)
            elif kind == "overload":
                ovl[d["key"]] = d.get("value", "")
            elif kind == "records":
                records[int(d["type"])] = {k: int(d[k]) for k in ("sent", "received", "dropped")}
            elif kind == "stopped":
                stopped = d
            elif kind == "bpfstats":
                bpfstats = d
    with open(a.problems) as f:
        problems = [l.rstrip("\n") for l in f if l.strip()]
    with open(a.warnings) as f:
        warnings = [l.rstrip("\n") for l in f if l.strip()]

    tck = num(meta.get("clk_tck"), 100.0)
    n_exec = int(meta.get("execs", 0))
    n_write = int(meta.get("writes", 0))
    n_conn = int(meta.get("connects", 0))
    rounds = int(meta.get("rounds", 0))
    exec_rounds = int(meta.get("exec_rounds", 0))

    def sel(bench, cond):
        return [r for r in runs if r["bench"] == bench and r["cond"] == cond]

    def elapsed(bench, cond, metric="elapsed"):
        return [num(r.get(metric)) for r in sel(bench, cond)]

    def pairs_of(bench, cond, metric="elapsed"):
        """(baseline, condition) values of the rounds that have both."""
        base = {r["round"]: num(r.get(metric)) for r in sel(bench, "baseline")}
        return [(base[r["round"]], num(r.get(metric))) for r in sel(bench, cond)
                if base.get(r["round"]) and num(r.get(metric)) is not None]

    def paired_ratio(bench, cond, metric="elapsed"):
        return median_ratio_of(pairs_of(bench, cond, metric))

    def ratio_of_medians(bench, cond, metric="elapsed"):
        b, c = med(elapsed(bench, "baseline", metric)), med(elapsed(bench, cond, metric))
        return c / b if b and c else None

    def agent_cpu(bench):
        rs = sel(bench, "agent")
        storm = [num(r["cpu_storm"]) / tck for r in rs]
        drain = [num(r["cpu_drain"]) / tck for r in rs]
        share = [num(r["cpu_storm"]) / tck / num(r["elapsed"]) * 100 for r in rs]
        return med(storm), med(drain), med(share)

    def captured(bench, key, expected):
        rs = sel(bench, "agent")
        got = [int(r.get(key, 0)) for r in rs]
        lost = sum(max(0, expected - g) for g in got)
        extra = sum(max(0, g - expected) for g in got)
        return got, lost, extra

    def drops_sum(bench, key):
        vals = [int(r.get(key, -1)) for r in sel(bench, "agent")]
        return "missing" if any(v < 0 for v in vals) else str(sum(vals))

    agent_runs = [r for r in runs if r["cond"] == "agent"]
    hwm_all = [num(r.get("hwm_kb")) for r in agent_runs]
    hwm_mib = max(hwm_all) / 1024 if hwm_all else None
    peak = max(agent_runs, key=lambda r: num(r.get("hwm_kb"), 0)) if agent_runs else {}

    def kib_to_mib(key):
        v = num(peak.get(key))
        return None if v is None else v / 1024

    o = []
    w = o.append
    w("# Mamori benchmark results")
    w("")
    w("| | |")
    w("|---|---|")
    w("| date (UTC) | %s |" % meta.get("date", "?"))
    w("| machine | %s CPUs (%s), %s GiB RAM, kernel %s |" % (
        meta.get("nproc"), meta.get("cpu", "?").replace("_", " "), meta.get("mem_gib"),
        meta.get("kernel")))
    w("| load average at start / end | %s / %s |" % (
        meta.get("load_start", "?").replace("/", " "), meta.get("load_end", "?").replace("/", " ")))
    w("| agent | bin/mamori-agent at %s, default configuration |" % meta.get("commit"))
    w("| rounds (interleaved) | %d; each: %d execs, %d file writes, %d connects |" % (
        rounds, n_exec, n_write, n_conn))
    w("| exec-only rounds after them | %d (baseline, agent and auditd in a rotating order) |" %
      exec_rounds)
    w("")

    # ---- exec storm
    base_e = med(elapsed("exec", "baseline"))
    agent_e = med(elapsed("exec", "agent"))
    audit_e = med(elapsed("exec", "auditd"))
    r_agent = ratio_of_medians("exec", "agent")
    r_audit = ratio_of_medians("exec", "auditd")
    cpu_s, cpu_d, cpu_pct = agent_cpu("exec")
    got, lost, extra = captured("exec", "execs", n_exec)
    w("## Exec storm: %d serial fork+execve of a static no-op binary" % n_exec)
    w("")
    w("| condition | median elapsed (s) | per exec (µs) | slowdown (ratio of medians) "
      "| slowdown (median of per-round ratios) | median storm CPU (s) | CPU ratio of medians "
      "| CPU, median of per-round ratios | CPU stolen by the host (median) |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")

    def exec_row(name, e, cond):
        per = e / n_exec * 1e6 if e else None
        c = med(elapsed("exec", cond or "baseline", "scpu"))
        st = med(elapsed("exec", cond or "baseline", "steal"))
        st = fmt(st, ".1f") + "%" if st is not None else "n/a"
        if cond is None:
            w("| %s | %s | %s | — | — | %s | — | — | %s |" % (name, fmt(e), fmt(per, ".1f"),
                                                            fmt(c), st))
        else:
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                name, fmt(e), fmt(per, ".1f"), pct(ratio_of_medians("exec", cond)),
                pct(paired_ratio("exec", cond)), fmt(c),
                pct(ratio_of_medians("exec", cond, "scpu")),
                pct(paired_ratio("exec", cond, "scpu")), st))
    exec_row("baseline (nothing running)", base_e, None)
    exec_row("mamori-agent capture", agent_e, "agent")
    if sel("exec", "auditd"):
        exec_row("auditd, one execve rule", audit_e, "auditd")
    else:
        w("| auditd, one execve rule | not run: %s | | | | | | | |" % (
            a.audit_note or "see problems"))
    w("")
    w("90%% intervals (bootstrap over whole rounds, %d pairs): how far this host's noise leaves "
      "the figures above uncertain." % len(pairs_of("exec", "agent")))
    w("")
    w("| condition | slowdown (ratio of medians) | slowdown (median of per-round ratios) "
      "| storm CPU (ratio of medians) |")
    w("|---|---|---|---|")
    for name, cond in (("mamori-agent capture", "agent"), ("auditd, one execve rule", "auditd")):
        pe, pc = pairs_of("exec", cond), pairs_of("exec", cond, "scpu")
        w("| %s | %s | %s | %s |" % (
            name, pct_interval(interval(pe, ratio_of_medians_of)),
            pct_interval(interval(pe, median_ratio_of)),
            pct_interval(interval(pc, ratio_of_medians_of))))
    w("")
    # What the agent's kernel programs cost each exec, as the kernel itself timed them.
    if bpfstats.get("status") == "ok" and bpfstats.get("progs"):
        per_exec_us = base_e / n_exec * 1e6 if base_e else None
        w("The agent's BPF programs during one more exec storm under the agent, timed by the "
          "kernel (kernel.bpf_stats_enabled; that storm is not among the timed ones)%s:" % (
              "" if bpfstats.get("owner") == "agent" else
              " (this bpftool does not list program holders: every program that ran)"))
        w("")
        w("| program | runs | ns per run | ns per exec of the storm |")
        w("|---|---:|---:|---:|")
        total = 0
        for item in bpfstats["progs"].split(","):
            name, runs_s, ns_s = item.rsplit(":", 2)
            runs_n, ns = int(runs_s), int(ns_s)
            total += ns
            w("| %s | %d | %.0f | %.0f |" % (name, runs_n, ns / runs_n, ns / n_exec))
        w("| **all** | | | **%.0f** = %s%% of the baseline's %s µs per exec |" % (
            total / n_exec, fmt(total / n_exec / 1000 / per_exec_us * 100 if per_exec_us else None,
                               ".2f"), fmt(per_exec_us, ".1f")))
        w("")
    elif bpfstats:
        w("BPF run-time statistics not taken: %s." % bpfstats.get("reason", "unknown"))
        w("")
    # The same figures over the rounds in which the host stole (almost) nothing from either
    # side of the pair: whole rounds are kept or dropped, never single runs.
    def quiet_pairs(cond, metric):
        steal = {}
        for r in runs:
            if r["bench"] == "exec":
                steal[(r["round"], r["cond"])] = num(r.get("steal"))
        pairs = []
        base = {r["round"]: r for r in sel("exec", "baseline")}
        for r in sel("exec", cond):
            b = base.get(r["round"])
            sb, sc = steal.get((r["round"], "baseline")), steal.get((r["round"], cond))
            if b and sb is not None and sc is not None and sb <= QUIET_STEAL and \
                    sc <= QUIET_STEAL and num(b.get(metric)) and num(r.get(metric)):
                pairs.append((num(b.get(metric)), num(r.get(metric))))
        return pairs

    w("In rounds where the host stole at most %.0f%% of the CPU time during both the baseline "
      "and the condition (whole pairs kept or dropped):" % QUIET_STEAL)
    w("")
    w("| condition | rounds kept | slowdown (ratio of medians) | slowdown (median of per-round "
      "ratios) | CPU ratio of medians | CPU, median of per-round ratios |")
    w("|---|---:|---:|---:|---:|---:|")
    for name, cond in (("mamori-agent capture", "agent"), ("auditd, one execve rule", "auditd")):
        pe, pc = quiet_pairs(cond, "elapsed"), quiet_pairs(cond, "scpu")
        if not pe:
            w("| %s | 0 | n/a | n/a | n/a | n/a |" % name)
            continue
        w("| %s | %d of %d | %s | %s | %s | %s |" % (
            name, len(pe), len(sel("exec", cond)),
            pct(ratio_of_medians_of(pe)), pct(median_ratio_of(pe)),
            pct(ratio_of_medians_of(pc)) if pc else "n/a",
            pct(median_ratio_of(pc)) if pc else "n/a"))
    w("")
    w("Storm CPU is the user + system time of the driver and its children: work the kernel "
      "does in exec hooks is charged there, and it is less sensitive than wall time to other "
      "load on a shared host.")
    w("")
    w("| agent, exec storm | value |")
    w("|---|---:|")
    w("| CPU time during the storm (median) | %s s = %s%% of storm time |" % (
        fmt(cpu_s, ".2f"), fmt(cpu_pct, ".1f")))
    w("| CPU time including the drain after it (median) | %s s |" % fmt(cpu_d, ".2f"))
    w("| peak RSS (VmHWM, max over all agent runs) | %s MiB |" % fmt(hwm_mib, ".1f"))
    w("| that run's resident set: private (RssAnon) / file-backed (RssFile) | %s / %s MiB |" % (
        fmt(kib_to_mib("rss_anon_kb"), ".1f"), fmt(kib_to_mib("rss_file_kb"), ".1f")))
    w("| of RssFile, BPF map mappings (the ring buffer's pages, mapped twice) | %s MiB |" %
      fmt(kib_to_mib("rss_bpfmap_kb"), ".1f"))
    w("| exec events of the tiny binary, per round | %s (expected %d each) |" % (
        ", ".join(str(g) for g in got), n_exec))
    w("| lost exec events, all rounds | %d%s |" % (
        lost, " (and %d duplicates)" % extra if extra else ""))
    w("| agent drops reported (kernel / queue / shed), all rounds | %s / %s / %s |" % (
        drops_sum("exec", "kernel"), drops_sum("exec", "queue"), drops_sum("exec", "shed")))
    w("")

    # ---- write and connect storms
    w("## File-write and connect storms (baseline vs agent)")
    w("")
    w("| storm | baseline median (s) | agent median (s) | ratio of medians | "
      "median of per-round ratios | storm CPU ratio of medians | agent CPU, storm (median) "
      "| events captured per round (expected) | lost | drops k/q/s |")
    w("|---|---:|---:|---:|---:|---:|---:|---|---:|---|")
    for bench, key, n, what in (("write", "mods", n_write, "modification"),
                                ("connect", "connects", n_conn, "connection_attempted")):
        b, ag = med(elapsed(bench, "baseline")), med(elapsed(bench, "agent"))
        cs, _, cp = agent_cpu(bench)
        g, l, x = captured(bench, key, n)
        w("| %s × %d | %s | %s | %s | %s | %s | %s s (%s%%) | %s: %s (%d) | %d%s | %s/%s/%s |" % (
            bench, n, fmt(b), fmt(ag), pct(ratio_of_medians(bench, "agent")),
            pct(paired_ratio(bench, "agent")), pct(ratio_of_medians(bench, "agent", "scpu")),
            fmt(cs, ".2f"), fmt(cp, ".0f"), what,
            ", ".join(str(v) for v in g), n, l, " (+%d extra)" % x if x else "",
            drops_sum(bench, "kernel"), drops_sum(bench, "queue"), drops_sum(bench, "shed")))
    w("")

    # ---- overload
    counts = parse_line(ovl.get("counts", "").replace(",", " "))
    tiny_n = int(ovl.get("tiny_execs", 0))
    w("## Overload: 64 KiB ring, drained every 200 ms, two concurrent exec storms")
    w("")
    w("%d execs of the tiny binary (two drivers of %d) in %s s; agent CPU %s s." % (
        tiny_n, tiny_n // 2, ovl.get("storm", "?"),
        fmt(num(ovl.get("cpu_ticks"), 0) / tck, ".2f")))
    w("")
    w("| record type | sent | received | dropped | produced (sent + dropped) |")
    w("|---|---:|---:|---:|---:|")
    names = {1: "exec", 2: "fork", 3: "exit", 4: "connect", 5: "accept", 6: "close", 7: "listen",
             8: "ptrace", 9: "memfd", 10: "module", 11: "bpf", 12: "cred"}
    for t in sorted(records):
        rc = records[t]
        w("| %d %s | %d | %d | %d | %d |" % (t, names.get(t, "?"), rc["sent"], rc["received"],
                                            rc["dropped"], rc["sent"] + rc["dropped"]))
    w("")
    ex = records.get(1)
    kernel = int(counts.get("kernel", -1))
    sum_dropped = sum(rc["dropped"] for rc in records.values())
    tiny_got = int(counts.get("execs", 0))
    exec_all = int(counts.get("exec_all", 0))
    checks = []
    if ex:
        checks.append(("ring overflowed (exec dropped > 0), so the test means something",
                       ex["dropped"] > 0, "dropped=%d" % ex["dropped"]))
        checks.append(("exec: received == sent", ex["received"] == ex["sent"],
                       "received=%d sent=%d" % (ex["received"], ex["sent"])))
        checks.append(("exec: produced (sent + dropped) >= tiny execs",
                       ex["sent"] + ex["dropped"] >= tiny_n,
                       "%d >= %d; %d other execs on the host" % (
                           ex["sent"] + ex["dropped"], tiny_n,
                           ex["sent"] + ex["dropped"] - tiny_n)))
        checks.append(("exec: tiny execs captured + exec dropped >= tiny execs",
                       tiny_got + ex["dropped"] >= tiny_n,
                       "%d + %d = %d >= %d" % (tiny_got, ex["dropped"], tiny_got + ex["dropped"],
                                               tiny_n)))
        checks.append(("exec: exec events written == exec records received",
                       exec_all == ex["received"],
                       "written=%d received=%d" % (exec_all, ex["received"])))
    else:
        checks.append(("eBPF source logged 'records type=1 ...' at stop", False, "missing"))
    all_recv = all(rc["received"] == rc["sent"] for rc in records.values())
    checks.append(("every type: received == sent", all_recv and bool(records),
                   ", ".join("%s %d/%d" % (names.get(t, t), records[t]["received"],
                                           records[t]["sent"]) for t in sorted(records))))
    checks.append(("agent_drops kernel == sum of dropped over all types", kernel == sum_dropped,
                   "kernel=%d sum=%d" % (kernel, sum_dropped)))
    w("| check | result | numbers |")
    w("|---|---|---|")
    for name, ok, nums in checks:
        w("| %s | %s | %s |" % (name, check(ok), nums))
    w("")
    w("Final agent_drops event: kernel=%s queue=%s shed=%s total=%s." % (
        counts.get("kernel"), counts.get("queue"), counts.get("shed"), counts.get("total")))
    w("")

    # ---- targets
    exec_zero_lost = bool(got) and lost == 0
    drops_ok = all(ok for _, ok, _ in checks)
    w("## Targets")
    w("")
    w("| target | measured | verdict |")
    w("|---|---|---|")
    qe = quiet_pairs("agent", "elapsed")
    quiet = ("; in the %d rounds without steal: %s (ratio of medians), %s (median of per-round "
             "ratios)" % (len(qe), pct(ratio_of_medians_of(qe)),
                          pct(median_ratio_of(qe)))) if qe else ""
    w("| exec-storm slowdown ≤ %.0f%% | all rounds: wall time %s (ratio of medians; 90%% "
      "interval %s), %s (median of per-round ratios); storm CPU %s%s | %s |" % (
          TARGET_EXEC_SLOWDOWN_PCT, pct(r_agent),
          pct_interval(interval(pairs_of("exec", "agent"), ratio_of_medians_of)),
          pct(paired_ratio("exec", "agent")),
          pct(ratio_of_medians("exec", "agent", "scpu")), quiet,
                  verdict(r_agent is not None and
                          (r_agent - 1) * 100 <= TARGET_EXEC_SLOWDOWN_PCT)))
    w("| zero lost events at %d serial execs | %d lost over %d rounds | %s |" % (
        n_exec, lost, len(got), verdict(exec_zero_lost)))
    w("| agent RSS ≤ %.0f MB | %s MiB peak | %s |" % (
        TARGET_RSS_MIB, fmt(hwm_mib, ".1f"),
        verdict(hwm_mib is not None and hwm_mib <= TARGET_RSS_MIB)))
    w("| every drop counted (overload checks) | %d/%d checks ok | %s |" % (
        sum(1 for _, ok, _ in checks if ok), len(checks), verdict(drops_ok)))
    w("| reference: auditd with one execve rule, about +15%% | %s | — |" % pct(r_audit))
    w("")

    def stolen(r):
        v = num(r.get("steal"))
        return fmt(v, ".1f") + "%" if v is not None else ""

    # ---- raw data
    w("## Per-round data")
    w("")
    w("| round | storm | condition | elapsed (s) | storm CPU (s) | stolen | agent CPU storm / +drain (s) "
      "| peak RSS (MiB) | captured | drops k/q/s |")
    w("|---:|---|---|---:|---:|---:|---|---:|---:|---|")
    keys = {"exec": "execs", "write": "mods", "connect": "connects"}
    for r in runs:
        if r["cond"] == "agent":
            w("| %s | %s | agent | %s | %s | %s | %.2f / %.2f | %.1f | %s | %s/%s/%s |" % (
                r["round"], r["bench"], fmt(num(r["elapsed"])), fmt(num(r.get("scpu"))),
                stolen(r),
                num(r["cpu_storm"]) / tck, num(r["cpu_drain"]) / tck,
                num(r["hwm_kb"]) / 1024, r.get(keys[r["bench"]]),
                r.get("kernel"), r.get("queue"), r.get("shed")))
        else:
            extra = ("auditd lost=%s" % r["audit_lost"]) if "audit_lost" in r else ""
            w("| %s | %s | %s | %s | %s | %s | | | %s | |" % (
                r["round"], r["bench"], r["cond"], fmt(num(r["elapsed"])),
                fmt(num(r.get("scpu"))), stolen(r), extra))
    w("")
    if stopped:
        w("Overload agent at stop: " + ", ".join(
            "%s=%s" % (k, v) for k, v in stopped.items() if k != "kind") + ".")
        w("")

    # Anything an agent run lost or threw away is a finding, whatever the targets say.
    for r in agent_runs:
        key = keys[r["bench"]]
        expected = {"exec": n_exec, "write": n_write, "connect": n_conn}[r["bench"]]
        got_r = int(r.get(key, 0))
        tag = "round %s %s storm" % (r["round"], r["bench"])
        if got_r < expected:
            problems.append("%s: %d of %d expected events missing from the output (agent drop "
                            "counters kernel=%s queue=%s shed=%s)" % (
                                tag, expected - got_r, expected, r.get("kernel"),
                                r.get("queue"), r.get("shed")))
        for k in ("kernel", "queue", "shed"):
            if int(r.get(k, 0)) > 0:
                problems.append("%s: agent reported %s drops=%s" % (tag, k, r.get(k)))
        if int(r.get("bad_lines", 0)):
            problems.append("%s: %s output lines are not valid JSON" % (tag, r["bad_lines"]))
    w("## Problems")
    w("")
    if a.audit_note and not sel("exec", "auditd"):
        problems.insert(0, "auditd column missing: " + a.audit_note)
    if problems:
        for p in problems:
            w("- " + p)
    else:
        w("None: every agent run started, stopped on SIGINT with status 0 and wrote its final "
          "agent_drops event.")
    w("")
    if warnings:
        w("Warnings and errors the agent logged (count, numbers blanked):")
        w("")
        w("```")
        o.extend(warnings)
        w("```")
        w("")
    print("\n".join(o))


if __name__ == "__main__":
    main()
