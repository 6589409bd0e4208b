#!/usr/bin/env python3
"""Markdown report of a bench/detect.sh run, from its results.jsonl (one JSON object a line)."""
import json
import statistics
import sys

SCAN_MAX_RATIO = 5.0
MATCH_MIN_EPS = 1_000_000
SCALE_MAX_RATIO = 1.5


def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def verdict(ok):
    return "**met**" if ok else "**missed**"


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    host = next(r for r in rows if r["kind"] == "host")
    corpus = next((r for r in rows if r["kind"] == "corpus"), {})
    end = next((r for r in rows if r["kind"] == "end"), {})
    greps = [r for r in rows if r["kind"] == "grep"]
    scans = [r for r in rows if r["kind"] == "scan"]
    match = [r for r in rows if r["kind"] == "match"]
    for m in match:  # a string since the process-only set joined the rotation
        m["size"] = int(m["size"])
    proc10 = [r for r in rows if r["kind"] == "match_p10"]
    sizes = [int(x) for x in host["sizes"].split(",")]
    out = []
    w = out.append

    w("# Detection benchmark: %s" % host["date"])
    w("")
    dirty = host.get("dirty_src") or []
    w("Commit %s%s. %s, %d CPUs, %d MiB, kernel %s. Load average %.2f at the start, %.2f at the "
      "end. Binaries: `%s`." % (host["commit"],
                                " with %d uncommitted files under src/ (%s)" % (
                                    len(dirty), ", ".join(dirty[:6]) + (" ..." if len(dirty) > 6 else ""))
                                if dirty else "", host["cpu"], host["ncpu"], host["mem_mib"],
                                host["kernel"], host["load_start"], end.get("load_end", 0),
                                host["bin"]))
    w("")
    acts = corpus.get("actions", {})
    ev = corpus.get("events", 0) or 1
    exec_n = acts.get("exec", 0)
    file_n = sum(acts.get(k, 0) for k in ("creation", "modification", "deletion", "rename"))
    net_n = sum(v for k, v in acts.items() if k.startswith("connection_"))
    w("Corpus: %d events, %.1f MB (%.0f bytes/event; bench/detect_events.py, seed %d): exec %.1f%%, "
      "file %.1f%%, network %.1f%%." % (corpus.get("events", 0), corpus.get("bytes", 0) / 1e6,
                                          corpus.get("bytes", 0) / ev, host["seed"],
                                          100 * exec_n / ev, 100 * file_n / ev, 100 * net_n / ev))
    w("")

    # ---- 1 ----
    w("## 1. `mamori scan`, every SigmaHQ Linux rule, against one `grep -F` pass")
    w("")
    w("`grep -F -c LITERAL FILE` and `mamori scan --rules SIGMA -o jsonl FILE > alerts`, both "
      "from the page cache; wall and CPU (user+sys) times. *rules*: `--no-behaviour`, the Sigma "
      "rules alone, alternated with grep; *default*: as shipped, with the built-in behaviour "
      "detections, each run after a grep pass of its own.")
    w("")
    w("| round | scan | grep -F wall (s) | scan wall (s) | scan / grep (wall) | grep CPU (s) | scan CPU (s) | scan / grep (CPU) | scan events/s | alerts |")
    w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    per = {"rules": [], "default": []}
    for sc in scans:
        g = next((x for x in greps if x["round"] == sc["round"]), None)
        lab = sc.get("label", "rules")
        rw = sc["wall_s"] / g["wall_s"] if g and g["wall_s"] > 0 else None
        gc = g["user_s"] + g["sys_s"] if g else None
        scc = sc["user_s"] + sc["sys_s"]
        rc = scc / gc if gc else None
        per.setdefault(lab, []).append((sc, g, rw, rc))
        w("| %d | %s | %.3f | %.2f | %s | %.2f | %.2f | %s | %s | %d |" % (
            sc["round"], lab, g["wall_s"] if g else float("nan"), sc["wall_s"],
            "%.1f×" % rw if rw else "-", gc or 0, scc, "%.1f×" % rc if rc else "-",
            "{:,.0f}".format(sc["events"] / sc["wall_s"]) if sc.get("events") else "-",
            sc.get("alerts", 0)))
    w("")
    summ = {}
    for lab, lst in per.items():
        if not lst:
            continue
        gm = med([g["wall_s"] for _, g, _, _ in lst if g])
        sm = med([x["wall_s"] for x, _, _, _ in lst])
        gcm = med([g["user_s"] + g["sys_s"] for _, g, _, _ in lst if g])
        scm = med([x["user_s"] + x["sys_s"] for x, _, _, _ in lst])
        summ[lab] = dict(gm=gm, sm=sm, gcm=gcm, scm=scm, r=sm / gm, rr=med([t[2] for t in lst]),
                         rc=scm / gcm if gcm else None, s0=lst[0][0], n=len(lst))
        x = summ[lab]
        w("*%s* (%d run%s): grep %.3f s, scan %.2f s (%s events/s, %.0f MB/s); scan / grep "
          "**%.1f×** wall (ratio of medians; median of per-round ratios %.1f×), %s CPU. %s rules "
          "loaded, %s not loaded; %d alerts; peak RSS %.0f MiB." % (
              lab, x["n"], "" if x["n"] == 1 else "s", gm, sm,
              "{:,.0f}".format(x["s0"]["events"] / sm), corpus.get("bytes", 0) / 1e6 / sm,
              x["r"], x["rr"], "%.1f×" % x["rc"] if x["rc"] else "-", x["s0"].get("rules"),
              x["s0"].get("not_loaded"), x["s0"].get("alerts", 0),
              x["s0"].get("maxrss_kib", 0) / 1024))
        w("")
    if greps:
        w("grep counted %s matching lines." % greps[0]["count"])
        w("")

    # ---- 2 and 3 ----
    by = {n: [m["r"] for m in match if m["size"] == n] for n in sizes}

    def mm(n, key):
        return med([x[key] for x in by.get(n, [])])

    w("## 2 and 3. The matcher alone (`mamori-detect-bench`), by rule count")
    w("")
    w("First %d events; per run %d rounds of a parse-only pass, a parse+match pass (alternated) "
      "and a pass timing each `detect_ctx_match` call; %d interleaved runs per set. Times are the "
      "thread's CPU time per event; match = (parse+match) − parse. The timed column is wall "
      "clock per call, minus the timer's own cost: a cross-check, inflated when the host is "
      "busy." % (host["match_events"], host["repeat"], host["rounds"]))
    w("")
    w("| rules | prefilter literals | rules without literals | rules with a gate | rules evaluated / gated per event | values/event (bytes) | parse ns/event | match ns/event | match events/s | match ns, per run | timed ns/call (wall) | hits |")
    w("|---:|---:|---:|---:|---|---|---:|---:|---:|---|---:|---:|")
    def row(label, rs):  # rs: the runs of one set, mamori-detect-bench's objects
        m = med([x["match_ns"] for x in rs])
        w("| %s | %d | %d | %s | %s | %.1f (%.0f) | %.0f | **%.0f** | %s | %s | %.0f | %d |" % (
            label, rs[0]["atoms"], rs[0]["unfiltered"],
            rs[0].get("gated_rules", "-"),
            "%.3f / %.3f" % (rs[0]["evaluated_per_event"], rs[0]["gated_per_event"])
            if "evaluated_per_event" in rs[0] else "-",
            rs[0]["values_per_event"],
            rs[0]["value_bytes_per_event"], med([x["parse_ns"] for x in rs]), m,
            "{:,.0f}".format(1e9 / m) if m and m > 0 else "-",
            ", ".join("%.0f" % x["match_ns"] for x in rs),
            med([x["match_timed_ns"] for x in rs]), rs[0]["hits"]))

    for n in sizes:
        if by.get(n):
            row("%d" % by[n][0]["rules"], by[n])
    dflt = [m["r"] for m in rows if m["kind"] == "match_default"]
    if dflt:
        row("%d + behaviour (as shipped)" % dflt[0]["rules"], dflt)
    if proc10:
        row("10 process_creation rules", [x["r"] for x in proc10])
    w("")
    if proc10:
        w("The rule-count rows run `--no-behaviour` (the Sigma rules alone). Each set up to 210 "
          "is spread evenly over the SigmaHQ list sorted by path, so it has the corpus's mix of "
          "logsources, and each holds the smaller ones; 1000 is every SigmaHQ rule plus variants "
          "of them (bench/detect_rules.py). The *as shipped* row is the SigmaHQ directory as "
          "`mamori scan` loads it by default. The last row is the set earlier runs used as their "
          "10: the first 10 process_creation rules, one logsource and no keyword rule, so only "
          "the values of two fields are scanned; against it, the larger sets also pay for the "
          "fields and logsources that 10 such rules leave out.")
    else:  # results from before the process-only set was measured apart: their 10 was that set
        w("The rule-count rows run `--no-behaviour` (the Sigma rules alone); the last row is the "
          "SigmaHQ directory as `mamori scan` loads it by default.")
    w("")
    def per_round(a_recs, b_recs):  # median over rounds of b's match time over a's
        per = []
        for r in sorted({m["round"] for m in match}):
            a = [x["r"]["match_ns"] for x in a_recs if x["round"] == r]
            b = [x["r"]["match_ns"] for x in b_recs if x["round"] == r]
            if a and b and a[0] > 0:
                per.append(b[0] / a[0])
        return med(per)

    def recs(n):
        return [m for m in match if m["size"] == n]

    base = sizes[0]
    ratios = []
    for n in sizes:
        if n == base or n not in by:
            continue
        ratios.append((n, mm(n, "match_ns") / mm(base, "match_ns") if mm(base, "match_ns") else None,
                       per_round(recs(base), recs(n))))
    top = max(by)
    p10_ratio = None
    if proc10 and top in by:
        pm = med([x["r"]["match_ns"] for x in proc10])
        if pm:
            p10_ratio = (mm(top, "match_ns") / pm, per_round(proc10, recs(top)), pm)
    w("Cost relative to %d rules: %s." % (base, "; ".join(
        "%d rules %.2f× (ratio of medians), %.2f× (median of per-round ratios), %.2f× (timed "
        "calls)" % (n, a, b, mm(n, "match_timed_ns") / mm(base, "match_timed_ns"))
        for n, a, b in ratios if a and b)))
    if p10_ratio:
        w("")
        w("Cost of %d rules relative to the 10 process_creation rules: %.2f× (ratio of medians), "
          "%.2f× (median of per-round ratios), %.2f× (timed calls)." % (
              top, p10_ratio[0], p10_ratio[1],
              mm(top, "match_timed_ns") / med([x["r"]["match_timed_ns"] for x in proc10])))
    w("")

    # ---- targets ----
    w("## Targets")
    w("")
    w("| target | measured | verdict |")
    w("|---|---|---|")
    for lab, what in (("default", "as shipped (rules + behaviour detections)"),
                      ("rules", "the Sigma rules alone (`--no-behaviour`)")):
        x = summ.get(lab)
        if x:
            w("| scan ≤ %.0f× one grep -F pass, %s | %.1f× wall (%.2f s vs %.3f s); %s CPU | %s |" % (
                SCAN_MAX_RATIO, what, x["r"], x["sm"], x["gm"],
                "%.1f×" % x["rc"] if x["rc"] else "-", verdict(x["r"] <= SCAN_MAX_RATIO)))
    full = 210 if 210 in by else max(by)
    m210 = mm(full, "match_ns")
    if m210:
        w("| matcher ≥ 1,000,000 events/s per core (%d rules alone) | %s events/s (%.0f ns/event; parse alone %.0f ns) | %s |" % (
            full, "{:,.0f}".format(1e9 / m210), m210, mm(full, "parse_ns"),
            verdict(1e9 / m210 >= MATCH_MIN_EPS)))
    if dflt:
        dm = med([x["match_ns"] for x in dflt])
        w("| the same, as shipped (behaviour detections included) | %s events/s (%.0f ns/event) | %s |" % (
            "{:,.0f}".format(1e9 / dm), dm, verdict(1e9 / dm >= MATCH_MIN_EPS)))
    for n, a, b in ratios:
        if n == top and a:
            w("| cost(%d) ≤ %.1f× cost(%d)%s | %.2f× (%.0f vs %.0f ns/event; per-round median %.2f×) | %s |" % (
                n, SCALE_MAX_RATIO, base, ", sets with the SigmaHQ mix" if proc10 else "", a, mm(n, "match_ns"), mm(base, "match_ns"), b,
                verdict(a <= SCALE_MAX_RATIO)))
    if p10_ratio:
        w("| the same against 10 process_creation rules (one logsource, no keywords) | %.2f× (%.0f vs %.0f ns/event; per-round median %.2f×) | %s |" % (
            p10_ratio[0], mm(top, "match_ns"), p10_ratio[2], p10_ratio[1],
            verdict(p10_ratio[0] <= SCALE_MAX_RATIO)))
    w("")

    # ---- where scan time goes ----
    x = summ.get("rules")
    if x and m210:
        n_ev = x["s0"]["events"]
        p = mm(full, "parse_ns")
        eng = (p + m210) * n_ev / 1e9
        rest = x["scm"] - eng
        w("Where the rules-only scan's CPU time goes (estimate from the matcher runs with the "
          "same rules): parsing %.1f s + matching %.1f s = %.1f s of the scan's %.1f s; %s "
          "Five grep passes take %.0f ns/event of wall time: parse + match + I/O would all have "
          "to fit in that." % (
              p * n_ev / 1e9, m210 * n_ev / 1e9, eng, x["scm"],
              "the remaining %.1f s is reading and splitting lines and writing alerts." % rest
              if rest > 0 else "(the matcher runs, on the first %d events, came out slower than "
              "the scan itself: host load)." % host["match_events"],
              SCAN_MAX_RATIO * x["gm"] / n_ev * 1e9))
        w("")

    w("## Raw")
    w("")
    w("```")
    for r in rows:
        w(json.dumps(r, separators=(",", ":")))
    w("```")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
