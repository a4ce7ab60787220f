"""Structural checks of monitoring/: the Grafana dashboard is well formed, covers the areas the
issue asks for (RED per route, store latency, writer queue, CQL pool, streams), and every
family that a dashboard panel or an alerting rule names is one the server exports (read from a
running server's /metrics; the CQL families, exported only on the Cassandra store, from
src/app/cql_metrics.c)."""

import json
import os
import re

import yaml

from conftest import ROOT
from exposition import parse

DASHBOARD = os.path.join(ROOT, "monitoring", "grafana", "messenger-dashboard.json")
ALERTS = os.path.join(ROOT, "monitoring", "prometheus", "alerts.yml")
FAMILY_RE = re.compile(r"\b((?:messenger|process)_[a-zA-Z0-9_]*)\b")
SUFFIXES = ("_bucket", "_sum", "_count")


def exported_families(messenger):
    types, _ = parse(messenger.metrics_text())
    with open(os.path.join(ROOT, "src", "app", "cql_metrics.c"), encoding="utf-8") as f:
        cql = set(re.findall(r'"(messenger_cql_[a-z_]+)"', f.read()))
    assert "messenger_cql_requests_in_flight" in cql
    return types, set(types) | cql


def referenced(expr, families):
    """Family names an expression uses, each mapped to an exported family (None if unknown)."""
    out = {}
    for name in FAMILY_RE.findall(expr):
        fam = name if name in families else None
        for suffix in SUFFIXES:
            if fam is None and name.endswith(suffix) and name[: -len(suffix)] in families:
                fam = name[: -len(suffix)]
        out[name] = fam
    return out


def dashboard_panels():
    with open(DASHBOARD, encoding="utf-8") as f:
        dash = json.load(f)
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 30
    names = [v["name"] for v in dash["templating"]["list"]]
    assert "datasource" in names and "job" in names
    return [p for p in dash["panels"] if p["type"] != "row"], dash["panels"]


def test_dashboard_layout():
    panels, everything = dashboard_panels()
    ids = [p["id"] for p in everything]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert len(panels) >= 10
    for p in panels:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["expr"].strip() and t["refId"], p["title"]
            assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]
            assert '$job' in t["expr"], "every query is filtered by the job variable: %s" % t["expr"]


def test_dashboard_uses_only_exported_families(messenger):
    types, families = exported_families(messenger)
    panels, _ = dashboard_panels()
    used = set()
    for p in panels:
        for t in p["targets"]:
            for name, fam in referenced(t["expr"], families).items():
                assert fam, "panel %r uses %s, which the server does not export" % (p["title"], name)
                if fam in types and types[fam] == "histogram":
                    assert name.endswith(SUFFIXES), "histogram %s used without _bucket/_sum/_count" % name
                used.add(fam)
    for area in ("messenger_http_requests_total", "messenger_http_request_duration_seconds",
                 "messenger_store_operation_duration_seconds", "messenger_sqlite_writer_queue_depth",
                 "messenger_cql_requests_in_flight", "messenger_cql_requests_queued", "messenger_event_streams"):
        assert area in used, "the dashboard has no panel on %s" % area


def test_alerts_use_only_exported_families(messenger):
    _, families = exported_families(messenger)
    with open(ALERTS, encoding="utf-8") as f:
        rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
    alerts = {r["alert"] for r in rules if "alert" in r}
    for needed in ("MessengerHighErrorRatio", "MessengerHighLatencyP99", "MessengerNotReady", "MessengerWriterBacklog"):
        assert needed in alerts
    for r in rules:
        for name, fam in referenced(r["expr"], families).items():
            assert fam, "rule %s uses %s, which the server does not export" % (r.get("alert") or r["record"], name)
