#!/usr/bin/python3
"""Soak: a mixed load at about 70% of measured capacity for --minutes, watching for leaks
and slow degradation.

1. Seeds a database (1000 users, 2000 conversations, up to 50 messages each) and starts the
   server (release build, --quiet).
2. Capacity: wrk (mixed.lua: 90% reads, 10% sends) closed-loop on 64 connections for 15 s.
3. Rate: wrk cannot fix a request rate (wrk2 is not in Debian), so each of 128 connections
   pauses SOAK_DELAY_MS before every request (wrk's delay() hook); the pause is calibrated in
   two 10 s runs so that the measured rate is 70% of capacity.
4. Soak: one 60 s wrk run per minute at that pause; near the end of each minute the server's
   VmRSS and open fds (/proc/PID) and the machine's load average are sampled; wrk reports the
   minute's p99. Server and load generator share the machine: run it on an otherwise idle one
   (the load column shows when something else competed).

Fails when, over the minutes after the first (warm-up), RSS grows steadily (least-squares
slope above 256 KiB/min and a total rise above 4 MiB), open fds grow steadily (slope above
0.5/min and a rise above 8), the last minute's p99 is more than twice the first minute's, any
request fails at the connection level, or a request gets a 4xx/5xx. Prints a table.
Usage: soak.py --bin build/release/messenger [--minutes 10]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hardening"))
from server import HOST, Server, fail as _fail  # noqa: E402

NAME = "soak"
HERE = os.path.dirname(os.path.abspath(__file__))
USERS, CONVERSATIONS = 1000, 2000
LOAD_FRACTION = 0.70
CONNECTIONS = 128
RSS_SLOPE_KIB, RSS_RISE_KIB = 256, 4096
FD_SLOPE, FD_RISE = 0.5, 8


def fail(msg):
    _fail(NAME, msg)


def wrk(port, seconds, connections, delay_ms, during=None):
    """Runs wrk; calls during() once, `seconds - 8` s in. Returns the parsed SOAK line."""
    env = dict(os.environ, SOAK_USERS=str(USERS), SOAK_CONVERSATIONS=str(CONVERSATIONS), SOAK_DELAY_MS="%.3f" % delay_ms)
    cmd = ["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--timeout", "10s", "-s",
           os.path.join(HERE, "mixed.lua"), "http://%s:%d" % (HOST, port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    sample = None
    if during:
        time.sleep(max(1, seconds - 8))
        sample = during()
    out, _ = proc.communicate(timeout=seconds + 60)
    m = re.search(r"^SOAK (.*)$", out, re.M)
    if proc.returncode != 0 or not m:
        fail("wrk failed:\n" + out)
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    if r["errors"]:
        fail("%d requests failed at the connection level:\n%s" % (r["errors"], out))
    if r["status_errors"]:
        fail("%d requests got a 4xx/5xx answer:\n%s" % (r["status_errors"], out))
    return r, sample


def loadavg():
    """The machine's 1-minute load average: above the core count, something else competes."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def slope(ys):
    """Least-squares slope of ys against 0, 1, 2, ..."""
    n = len(ys)
    if n < 2:
        return 0.0
    mx, my = (n - 1) / 2, sum(ys) / n
    return sum((x - mx) * (y - my) for x, y in enumerate(ys)) / sum((x - mx) ** 2 for x in range(n))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--minutes", type=int, default=10)
    args = ap.parse_args()
    if args.minutes < 3:
        fail("--minutes must be at least 3 (one warm-up minute, then a trend)")
    with tempfile.TemporaryDirectory(prefix="messenger-soak-") as workdir:
        db = os.path.join(workdir, "soak.db")
        subprocess.run([args.bin, "seed", "--db", db, "--users", str(USERS), "--conversations", str(CONVERSATIONS),
                        "--messages", "50"], check=True, stdout=subprocess.DEVNULL)
        server = Server(args.bin, db, workdir, NAME).start()
        cap, _ = wrk(server.port, 15, 64, 0)
        target = cap["rps"] * LOAD_FRACTION
        delay = CONNECTIONS * 1000.0 / target
        for _ in range(2):
            r, _ = wrk(server.port, 10, CONNECTIONS, delay)
            delay *= r["rps"] / target
        print("%s: capacity %.0f req/s (64 connections, closed loop, p99 %.2f ms); soak at %.0f req/s = %d%% "
              "(%d connections, %.2f ms pause before each request)" % (NAME, cap["rps"], cap["p99_us"] / 1000, target,
                                                                     LOAD_FRACTION * 100, CONNECTIONS, delay))
        print("%6s %10s %9s %9s %10s %5s %6s" % ("minute", "req/s", "p50 ms", "p99 ms", "RSS KiB", "fds", "load"))
        rows = []
        for minute in range(1, args.minutes + 1):
            r, (rss, fds, load) = wrk(server.port, 60, CONNECTIONS, delay,
                                      during=lambda: (server.rss_kib(), server.open_fds(), loadavg()))
            rows.append((minute, r["rps"], r["p50_us"] / 1000, r["p99_us"] / 1000, rss, fds, load))
            print("%6d %10.0f %9.2f %9.2f %10d %5d %6.2f" % rows[-1], flush=True)
        server.stop()
    steady = rows[1:]
    rss_slope = slope([row[4] for row in steady])
    fd_slope = slope([row[5] for row in steady])
    rss_rise = steady[-1][4] - steady[0][4]
    fd_rise = steady[-1][5] - steady[0][5]
    problems = []
    if rss_slope > RSS_SLOPE_KIB and rss_rise > RSS_RISE_KIB:
        problems.append("RSS grows steadily: %.0f KiB/min, +%d KiB after the warm-up minute" % (rss_slope, rss_rise))
    if fd_slope > FD_SLOPE and fd_rise > FD_RISE:
        problems.append("open fds grow steadily: %.1f/min, +%d" % (fd_slope, fd_rise))
    if rows[-1][3] > 2 * rows[0][3]:
        problems.append("p99 doubled: %.2f ms in the last minute, %.2f ms in the first" % (rows[-1][3], rows[0][3]))
    print("%s: after the warm-up minute RSS slope %.0f KiB/min (rise %+d KiB), fd slope %.2f/min (rise %+d); "
          "p99 first %.2f ms, last %.2f ms, worst %.2f ms" % (NAME, rss_slope, rss_rise, fd_slope, fd_rise, rows[0][3],
                                                             rows[-1][3], max(row[3] for row in rows)))
    if problems:
        fail("; ".join(problems))
    print("%s: OK: %d minutes at %.0f req/s, no steady growth of RSS or fds, p99 stable" % (NAME, args.minutes, target))


if __name__ == "__main__":
    main()
