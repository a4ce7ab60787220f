#!/usr/bin/python3
"""Coverage per module from gcovr's JSON summary (make coverage).

A module is a folder of src/ (src/store/sqlite, src/cql, ...). Prints lines and branches
covered per module and in total; with --min-lines N, exits 1 when the total line coverage of
src/ is below N percent. --quiet prints only the verdict.
"""
import argparse
import json
import os
import sys


def modules(summary):
    per = {}
    for f in summary["files"]:
        name = f["filename"]
        if not name.startswith("src/"):
            continue
        mod = os.path.dirname(name)
        m = per.setdefault(mod, {"lines": 0, "lines_covered": 0, "branches": 0, "branches_covered": 0})
        m["lines"] += f["line_total"]
        m["lines_covered"] += f["line_covered"]
        m["branches"] += f["branch_total"]
        m["branches_covered"] += f["branch_covered"]
    return per


def pct(covered, total):
    return 100.0 * covered / total if total else 100.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("summary")
    ap.add_argument("--min-lines", type=float, default=0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    with open(args.summary, encoding="utf-8") as f:
        per = modules(json.load(f))
    if not per:
        sys.exit("coverage: no file of src/ in %s" % args.summary)
    total = {k: sum(m[k] for m in per.values()) for k in ("lines", "lines_covered", "branches", "branches_covered")}
    if not args.quiet:
        print("| module | lines | line coverage | branches | branch coverage |")
        print("|---|---:|---:|---:|---:|")
        for mod in sorted(per):
            m = per[mod]
            print("| %s | %d | %.1f%% | %d | %.1f%% |" % (mod, m["lines"], pct(m["lines_covered"], m["lines"]),
                                                          m["branches"], pct(m["branches_covered"], m["branches"])))
        print("| **src/** | %d | **%.1f%%** | %d | **%.1f%%** |" % (
            total["lines"], pct(total["lines_covered"], total["lines"]),
            total["branches"], pct(total["branches_covered"], total["branches"])))
    line_pct = pct(total["lines_covered"], total["lines"])
    if line_pct < args.min_lines:
        print("coverage: %.1f%% of the lines of src/ covered, below the %.0f%% gate" % (line_pct, args.min_lines))
        sys.exit(1)
    if args.min_lines:
        print("coverage: %.1f%% of the lines of src/ covered (gate %.0f%%)" % (line_pct, args.min_lines))


if __name__ == "__main__":
    main()
