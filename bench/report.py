#!/usr/bin/python3
"""Turns the files bench/run.sh leaves in DIR (results.jsonl, info.json, run.env) into the
markdown report of `make bench`: the machine, the data set, one row per scenario with
messenger's and nginx's requests/s and p50/p99 latency, and the figures the targets of
issue 2 are checked against. Usage: report.py DIR > DIR/results.md"""
import json
import os
import sys

SCENARIOS = [
    ("msgs", "page of 20 messages, random conversation"),
    ("long-first", "long conversation, first page (20)"),
    ("long-cursor-fixed", "long conversation, one cursor deep in (20)"),
    ("long-cursor", "long conversation, random cursors deep in (20)"),
    ("long-page", "long conversation, page number deep in (20)"),
    ("convs", "a user's conversations (20)"),
    ("send", "send between random users (POST, durable)"),
    ("mix", "90% message pages / 10% sends"),
    ("authcmp", "msgs, auth off (the same reads with auth on: next line)"),
]
READS = ("msgs", "long-first", "long-cursor-fixed", "long-cursor", "long-page")


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return f"{os.cpu_count()} cores ({model}), {mem_kb / 1048576:.1f} GiB RAM"


def ms(us):
    return f"{us / 1000:.2f} ms"


def errors(r):
    e = {k: v for k, v in r["errors"].items() if v}
    return ", ".join(f"{k} {v}" for k, v in e.items()) or "0"


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "results.jsonl")) as f:
        results = [json.loads(line) for line in f]
    with open(os.path.join(d, "cpu.jsonl")) as f:
        cpu = [json.loads(line) for line in f]
    # Both files get one line per measured run, in the same order; keep each scenario's best run.
    runs, sent = {}, 0
    for r, c in zip(results, cpu, strict=True):
        assert r["label"] == c["label"], (r["label"], c["label"])
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
        r["cpu_us"] = c["server_s"] * 1e6 / max(r["requests"], 1)
        r["other"] = max(0.0, c["busy_s"] - c["server_s"] - c["wrk_s"]) / (c["wall_s"] * os.cpu_count())
        key = tuple(r["label"].split(" ", 1))
        if key == ("app", "send"):
            sent += r["requests"]
        if key not in runs or r["rps"] > runs[key]["rps"]:
            runs[key] = r
    with open(os.path.join(d, "info.json")) as f:
        info = json.load(f)
    env = {}
    with open(os.path.join(d, "run.env")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            env[k] = v

    out = []
    p = out.append
    p("# messenger benchmark (`make bench`)\n")
    p(f"- Machine: {machine()}; wrk and the server run on the same cores, so each request's "
      "cost includes the load generator's share of the CPU (same for nginx).")
    p(f"- Load: `{env['wrk']}` (keep-alive), each scenario against messenger and right after "
      f"against {env.get('nginx_version', 'nginx')} (2 workers, access_log off, open_file_cache) "
      "serving the same response bodies from files.")
    p(f"- Server: `{env['command']}` (store: {env.get('store', 'sqlite')})")
    if env.get("store") == "cassandra":
        p(f"- Cassandra: {env.get('cassandra_pids_counted', '0')} local node(s) on the same cores; "
          "server CPU/req includes the node's CPU (as SQLite's is inside messenger).")
    if env["rounds"] != "1":
        p(f"- {env['rounds']} rounds of every scenario; each row shows the run with the most requests/s.")
    seed_s, long_s = float(env["seed_s"]), float(env["seed_long_s"])
    total = info["messages"]
    seeded = total - info["long_total"]
    db_note = "" if env.get("store") == "cassandra" else f" (database {int(env['db_bytes']) / 1048576:.0f} MiB)"
    p(f"- Data: {info['conversations']} conversations, {total} messages"
      f"{db_note}; long conversation {info['long_conversation']} "
      f"with {info['long_total']} messages; random cursors at depths {info['long_cursor_depths']}, "
      f"one cursor at depth {info['long_cursor_fixed_depth']}, page number {info['long_page']}.")
    p(f"- Seeding{' (cached from an earlier run)' if env['seed_cached'] == 'yes' else ''}: "
      f"{seeded} messages in {seed_s:.1f} s ({seeded / seed_s:,.0f}/s), the long conversation in "
      f"{long_s:.1f} s ({info['long_total'] / long_s:,.0f}/s).")
    p("")
    p("| scenario | req/s | p50 | p99 | errors | body bytes | server CPU/req "
      "| nginx req/s | nginx p50 | nginx p99 | nginx CPU/req | vs nginx | other load |")
    p("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    busy = 0.0
    for key, title in SCENARIOS:
        a = runs.get(("app", key))
        if a is None:
            continue
        n = runs.get(("static", key))
        size = info.get(f"bytes_{key}", info["bytes_msgs"] if key == "mix" else "")
        row = [f"{key}: {title}", f"{a['rps']:,.0f}", ms(a["p50_us"]), ms(a["p99_us"]), errors(a), str(size),
               f"{a['cpu_us']:.0f} µs"]
        other = [a["other"]]
        if n:
            nerr = "" if errors(n) == "0" else f" (errors: {errors(n)})"
            row += [f"{n['rps']:,.0f}{nerr}", ms(n["p50_us"]), ms(n["p99_us"]), f"{n['cpu_us']:.0f} µs",
                    f"{a['rps'] / n['rps']:.2f}x"]
            other.append(n["other"])
        else:
            row += ["", "", "", "", ""]
        row.append(" / ".join(f"{o:.0%}" for o in other))
        busy = max(busy, *other)
        p("| " + " | ".join(row) + " |")
    on = runs.get(("auth", "authcmp"))
    if on:
        p("| " + " | ".join([f"authcmp: msgs with auth on (HS256 bearer token, {info.get('auth_tokens', '?')} users)",
                             f"{on['rps']:,.0f}", ms(on["p50_us"]), ms(on["p99_us"]), errors(on),
                             str(info["bytes_msgs"]), f"{on['cpu_us']:.0f} µs", "", "", "", "", "",
                             f"{on['other']:.0%}"]) + " |")
    p("")
    p("server CPU/req: CPU time of the server processes (messenger; nginx master and workers) "
      "divided by requests answered. other load: share of the machine's CPU used by processes "
      "other than the server and wrk during the run (messenger / nginx); "
      "above a few percent the run was disturbed and its numbers are low.")
    if busy > 0.10:
        p(f"\n**Warning: other processes used up to {busy:.0%} of the CPU during this run; "
          "rerun on a quiet machine for figures to quote.**")
    p("")
    p("Against the targets of issue 2:")
    for key in READS:
        a, n = runs.get(("app", key)), runs.get(("static", key))
        if a and n:
            p(f"- {key}: {a['rps'] / n['rps']:.0%} of nginx (target >= 50%), "
              f"p99 {ms(a['p99_us'])} (target < 10 ms)")
    first = runs.get(("app", "long-first"))
    for key, what in (("long-cursor-fixed", "one deep cursor (target: within 1.2x of the first page)"),
                      ("long-cursor", "random deep cursors (target: within 1.2x of the first page)"),
                      ("long-page", f"page number {info['long_page']} (no target)")):
        other = runs.get(("app", key))
        if first and other:
            p(f"- {what}: {other['rps']:,.0f} vs {first['rps']:,.0f} requests/s for the first page "
              f"({other['rps'] / first['rps']:.2f}x), p50 {ms(other['p50_us'])} vs {ms(first['p50_us'])}, "
              f"server CPU {other['cpu_us']:.0f} vs {first['cpu_us']:.0f} µs per request "
              f"({other['cpu_us'] / first['cpu_us']:.2f}x)")
    off = runs.get(("app", "authcmp"))
    if on and off:
        p(f"- authentication (issue 11): message pages with auth on {on['rps']:,.0f}/s vs "
          f"{off['rps']:,.0f}/s off ({on['rps'] / off['rps']:.0%}; target >= 90%), p99 "
          f"{ms(on['p99_us'])} vs {ms(off['p99_us'])}, server CPU {on['cpu_us']:.0f} vs "
          f"{off['cpu_us']:.0f} µs per request; best of two runs each, alternated")
    s = runs.get(("app", "send"))
    if s:
        bad = s["errors"]["status"]
        p(f"- durable sends: {s['rps']:,.0f}/s acknowledged with 201 after fsync "
          f"({bad} non-2xx; target >= 10,000/s), p99 {ms(s['p99_us'])}; {sent} sends answered "
          f"in all send runs, {env['sends_stored']} rows added to the messages table meanwhile")
    p(f"- RSS: {int(env['rss_idle_kb']) / 1024:.1f} MiB idle after start and a few requests "
      f"(target < 20 MB), {int(env['rss_load_kb']) / 1024:.1f} MiB after the load, "
      f"peak {int(env['hwm_kb']) / 1024:.1f} MiB")
    p(f"- SIGTERM after the load: exit status {env['shutdown_status']} in {env['shutdown_s']} s")
    print("\n".join(out))


if __name__ == "__main__":
    main()
