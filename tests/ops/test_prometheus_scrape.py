"""A real Prometheus (Debian's /usr/bin/prometheus) scrapes a running server every second: the
target is healthy, the alerting rules load, and the request rate Prometheus computes from
messenger_http_requests_total matches the load this test sent (a known number of requests at
a paced rate). Loopback only, free ports, a temporary config and storage directory."""

import http.client
import json
import os
import shutil
import subprocess
import time
import urllib.parse

import pytest

from conftest import ROOT, free_port, get

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
RATE = 40  # requests per second sent
SECONDS = 6
ROUTE = "/api/conversations/{}"


@pytest.fixture
def prometheus(messenger, workdir):
    assert os.path.exists(PROMETHEUS), "prometheus (Debian package) is required: make deps"
    shutil.copy(os.path.join(ROOT, "monitoring", "prometheus", "alerts.yml"), os.path.join(workdir, "alerts.yml"))
    config = os.path.join(workdir, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "rule_files: [alerts.yml]\n"
                "scrape_configs:\n  - job_name: messenger\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % messenger.port)
    log = open(os.path.join(workdir, "prometheus.log"), "wb")
    for _ in range(3):
        port = free_port()
        proc = subprocess.Popen([PROMETHEUS, "--config.file=" + config,
                                 "--storage.tsdb.path=" + os.path.join(workdir, "tsdb"),
                                 "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=workdir)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if get("http://127.0.0.1:%d/-/ready" % port, timeout=2)[0] == 200:
                    yield "http://127.0.0.1:%d" % port
                    proc.terminate()
                    proc.wait(timeout=30)
                    log.close()
                    return
            except OSError:
                time.sleep(0.2)
        proc.kill()
        proc.wait()
    log.close()
    with open(log.name, "rb") as f:
        pytest.fail("prometheus did not become ready:\n" + f.read().decode("utf-8", "replace")[-3000:])


def api(base, path, **params):
    status, _, body = get(base + path + ("?" + urllib.parse.urlencode(params) if params else ""))
    doc = json.loads(body)
    assert status == 200 and doc["status"] == "success", doc
    return doc["data"]


def wait_for(what, check, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.25)


def scalar(base, query, at):
    result = api(base, "/api/v1/query", query=query, time="%.3f" % at)["result"]
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_and_rate_matches_load(prometheus, messenger):
    def target_up():
        targets = api(prometheus, "/api/v1/targets")["activeTargets"]
        up = [t for t in targets if t["labels"]["job"] == "messenger" and t["health"] == "up"]
        return up and up[0]["lastError"] == "" and up
    wait_for("a healthy scrape of the server", target_up)
    rules = api(prometheus, "/api/v1/rules")["groups"]
    assert any(r["name"] == "MessengerHighErrorRatio" for g in rules for r in g["rules"]), "alert rules not loaded"
    assert all(r["health"] == "ok" or r["health"] == "unknown" for g in rules for r in g["rules"]), rules

    # the load: RATE requests per second for SECONDS on one route (404: a conversation that
    # does not exist), paced against the clock
    conn = http.client.HTTPConnection("127.0.0.1", messenger.port, timeout=10)
    sent = 0
    start = time.time()
    while sent < RATE * SECONDS:
        due = start + sent / RATE
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        conn.request("GET", "/api/conversations/%d" % (9007199254000000 + sent))
        r = conn.getresponse()
        r.read()
        assert r.status == 404
        sent += 1
    end = time.time()
    conn.close()
    selector = 'messenger_http_requests_total{job="messenger",route="%s",method="GET",status="404"}' % ROUTE

    # every request is in the scraped counter once a scrape after the load has happened
    time.sleep(2.5)
    total = wait_for("the final count", lambda: scalar(prometheus, selector, time.time()) == sent and sent)
    assert total == sent
    # the per-second rate over the middle of the load, as Prometheus computes it
    window = int(SECONDS - 2)
    rate = scalar(prometheus, "rate(%s[%ds])" % (selector, window), end - 0.5)
    assert rate is not None, "no rate: too few scrapes during the load"
    sent_rate = sent / (end - start)  # RATE, unless a loaded machine made the pacing fall behind
    assert sent_rate > RATE / 2, "could not send the load: %.1f/s" % sent_rate
    assert abs(rate - sent_rate) <= 0.25 * sent_rate, "Prometheus rate %.1f/s, sent %.1f/s" % (rate, sent_rate)
    # and the recording rule of the alerts sees the same traffic
    ratio = scalar(prometheus, "messenger:http_errors:ratio_rate5m", time.time())
    assert ratio == 0.0, ratio
