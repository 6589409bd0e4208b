#!/usr/bin/env python3
"""Rule sets of 10 to N rules for the detection benchmark (bench/detect.sh), derived from SigmaHQ.

Writes one directory per set under --out:
  rN     for each N in --sizes up to the corpus size: N of the SigmaHQ rules, spread evenly over
         the list sorted by path, so every set has the corpus's mix of logsources (r10: 3 auditd,
         1 keyword rule for every Linux event, 1 network, 5 process_creation) and each holds the
         smaller ones (r10 in r100 in r210)
  r210   all of them (the SigmaHQ Linux set)
  rN     for each N in --sizes above the corpus size: every SigmaHQ rule plus variants
  p10    with --process 10: the first 10 process_creation rules (by file name), a set of one
         logsource without keyword rules, the cheapest kind of small set

A variant copies a SigmaHQ rule with a fresh id and title and every string literal of its
detection altered: three random lowercase letters inserted at a random point inside the value
(never inside an escape; for `re` values the pattern is wrapped, `(?:...)xyz`, so it stays valid).
Structure, modifiers, field names, logsource and literal lengths (+3) stay those of real rules,
but values differ, so variants widen the prefilter as distinct rules would. Values the engine does
not treat as text (`cidr`, `expand`, `fieldref`, numbers, booleans, null) are kept. Deterministic
for a given --seed.

usage: detect_rules.py --sigma DIR --out DIR [--sizes 10,100,210,1000] [--process N] [--seed S]
"""
import argparse
import os
import random
import shutil
import sys
import uuid

import yaml

KEEP_MODS = {"cidr", "expand", "fieldref", "exists", "lt", "lte", "gt", "gte", "minute", "hour",
             "day", "week", "month", "year"}


def rule_files(sigma):
    out = []
    for d, _, files in os.walk(sigma):
        for f in files:
            if f.endswith((".yml", ".yaml")):
                out.append(os.path.join(d, f))
    return sorted(out, key=lambda p: os.path.relpath(p, sigma))


class Mutator:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def letters(self):
        return "".join(self.r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(3))

    def text(self, s, regex):
        if regex:
            return "(?:%s)%s" % (s, self.letters())
        # Positions where an insert cannot split an escape (\* \? \\).
        pos = [i for i in range(len(s) + 1) if i == 0 or s[i - 1] != "\\"]
        i = self.r.choice(pos)
        return s[:i] + self.letters() + s[i:]

    def value(self, v, mods):
        if mods & KEEP_MODS:
            return v
        if isinstance(v, str):
            return self.text(v, "re" in mods)
        if isinstance(v, list):
            return [self.value(x, mods) for x in v]
        if isinstance(v, dict):  # a map inside a list of maps
            return self.selection(v)
        return v  # numbers, booleans, null

    def selection(self, sel):
        if isinstance(sel, dict):
            out = {}
            for k, v in sel.items():
                mods = set(str(k).split("|")[1:])
                out[k] = self.value(v, mods)
            return out
        if isinstance(sel, list):  # keywords or a list of maps
            return [self.selection(x) if isinstance(x, dict) else self.value(x, set())
                    for x in sel]
        return self.value(sel, set())

    def rule(self, doc, n):
        d = dict(doc)
        d["id"] = str(uuid.UUID(int=self.r.getrandbits(128), version=4))
        d["title"] = "%s (variant %d)" % (doc.get("title", "rule"), n)
        d.pop("related", None)
        det = {}
        for k, v in doc["detection"].items():
            det[k] = v if k in ("condition", "timeframe") else self.selection(v)
        d["detection"] = det
        return d


def write(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(doc, f, sort_keys=False, allow_unicode=True, width=1000)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sigma", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", default="10,100,210,1000")
    ap.add_argument("--process", type=int, default=0,
                    help="also write pN: the first N process_creation rules")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    files = rule_files(a.sigma)
    docs = []
    for p in files:
        with open(p, encoding="utf-8") as f:
            docs.append((p, yaml.safe_load(f)))
    m = Mutator(a.seed)
    if a.process > 0:
        d = os.path.join(a.out, "p%d" % a.process)
        os.makedirs(d, exist_ok=True)
        pick = [x for x in docs if os.path.basename(x[0]).startswith("proc_creation_")]
        for i, (p, _) in enumerate(pick[:a.process]):
            shutil.copyfile(p, os.path.join(d, "%04d_%s" % (i, os.path.basename(p))))
        print("%s: %d rules" % (d, len(os.listdir(d))))
    for size in (int(x) for x in a.sizes.split(",")):
        d = os.path.join(a.out, "r%d" % size)
        os.makedirs(d, exist_ok=True)
        if size <= len(docs):
            pick = [docs[i * len(docs) // size] for i in range(size)]
        else:
            pick = docs
        for i, (p, _) in enumerate(pick):  # originals: copied byte for byte
            shutil.copyfile(p, os.path.join(d, "%04d_%s" % (i, os.path.basename(p))))
        for n in range(max(0, size - len(docs))):
            p, doc = docs[n % len(docs)]
            write(os.path.join(d, "v%04d_%s" % (n, os.path.basename(p))),
                  m.rule(doc, n // len(docs) + 1))
        print("%s: %d rules" % (d, len(os.listdir(d))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
