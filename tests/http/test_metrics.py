"""GET /metrics (API.md "Metrics"): Prometheus text format 0.0.4 with the families the contract
names, counters that follow the requests sent (by route pattern, never by raw path), histograms
whose buckets are cumulative, an exposition promtool accepts, and MESSENGER_METRICS=0."""

import os
import shutil
import subprocess

import pytest

from conftest import Server
from exposition import parse, value
from helpers import new_pair

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ROUTE_CONV = "/api/conversations/{}"


def scrape(api):
    r = api.get("/metrics", expect_json=False)
    assert r.status == 200, r
    assert r.header("Content-Type") == CONTENT_TYPE
    return r.body.decode("utf-8")


def test_contract_families(api, server):
    api.get("/health")
    types, samples = parse(scrape(api))
    assert types["messenger_http_requests_total"] == "counter"
    assert types["messenger_http_request_duration_seconds"] == "histogram"
    assert types["messenger_store_operation_duration_seconds"] == "histogram"
    assert types["messenger_event_streams"] == "gauge"
    assert types["messenger_build_info"] == "gauge"
    assert types["messenger_sqlite_writer_queue_depth" if server.store == "sqlite" else "messenger_cql_requests_in_flight"] == "gauge"
    for name in ("process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"):
        assert types[name] == "gauge", name
    build = [l for n, l, v in samples if n == "messenger_build_info" and v == 1]
    assert len(build) == 1 and build[0]["store"] == server.store and build[0]["version"], build
    assert value(samples, "process_resident_memory_bytes") > 1 << 20
    assert value(samples, "process_open_fds") >= 3


def test_requests_counted_by_route_pattern(api, server):
    before = parse(scrape(api))[1]
    for i in range(3):
        r = api.get("/api/conversations/%d" % (9007199254740000 + i))
        assert r.status == 404, r
    assert api.get("/no/such/path/%d" % os.getpid()).status == 404
    after = parse(scrape(api))[1]
    key = dict(route=ROUTE_CONV, method="GET", status="404")
    assert value(after, "messenger_http_requests_total", **key) - value(before, "messenger_http_requests_total", **key) == 3
    key = dict(route="unmatched", method="GET", status="404")
    assert value(after, "messenger_http_requests_total", **key) - value(before, "messenger_http_requests_total", **key) == 1
    routes = {l["route"] for n, l, v in after if "route" in l}
    assert not any(r.startswith("/api/conversations/9") or r.startswith("/no/") for r in routes), routes
    count = "messenger_http_request_duration_seconds_count"
    assert value(after, count, route=ROUTE_CONV) - value(before, count, route=ROUTE_CONV) == 3


def test_store_and_writer_histograms(api, server):
    a, b = new_pair()
    api.send(a, b, "metrics")
    _, samples = parse(scrape(api))
    op = "messenger_store_operation_duration_seconds"
    assert value(samples, op + "_count", store=server.store, operation="send_message") >= 1
    buckets = [(float(l["le"]), v) for n, l, v in samples
               if n == op + "_bucket" and l["operation"] == "send_message"]
    assert buckets[-1][0] == float("inf")
    assert [v for _, v in buckets] == sorted(v for _, v in buckets), "buckets must be cumulative"
    assert buckets[-1][1] == value(samples, op + "_count", store=server.store, operation="send_message")
    if server.store == "sqlite":
        assert value(samples, "messenger_sqlite_writer_batch_size_count") >= 1
        assert value(samples, "messenger_sqlite_writer_commit_duration_seconds_sum") > 0


def test_promtool_accepts_the_exposition(api):
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is required: make deps"
    r = subprocess.run([promtool, "check", "metrics"], input=scrape(api).encode(), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()


def test_head_and_method_not_allowed(api):
    r = api.request("HEAD", "/metrics", expect_json=False)
    assert r.status == 200 and r.body == b""
    r = api.request("POST", "/metrics")
    assert r.status == 405 and r.header("Allow") == "GET", r


def test_metrics_off(workdir, server_env):
    env = dict(server_env, MESSENGER_METRICS="0")
    s = Server(workdir, env, "nometrics").start()
    try:
        c = s.client()
        r = c.get("/metrics")
        assert r.status == 404 and "MESSENGER_METRICS=0" in r.json["detail"], r
        assert c.get("/health").status == 200
        c.close()
    finally:
        s.stop_and_check()
