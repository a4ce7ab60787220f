"""Service endpoints, routing errors (404/405), content types, keep-alive, and what the server
must never echo (stack traces, statements, message contents in its log)."""

import json
import os
import re
import time
import urllib.parse

import pytest

from helpers import check_detail, new_pair

API_PATHS = {
    "/api/messages/": "post",
    "/api/messages/conversation/{conversation_id}": "get",
    "/api/messages/conversation/{conversation_id}/before": "get",
    "/api/conversations/user/{user_id}": "get",
    "/api/conversations/{conversation_id}": "get",
    "/": "get",
    "/health": "get",
    "/ready": "get",
    }


def test_root(api, server):
    r = api.get("/")
    assert r.status == 200, r
    assert r.json == {"message": "messenger is running", "backend": server.store}


def test_health(api):
    r = api.get("/health")
    assert r.status == 200 and r.json == {"status": "ok"}, r


def test_ready(api):
    r = api.get("/ready")
    assert r.status == 200 and r.json == {"status": "ready"}, r


def test_openapi_document(api):
    r = api.get("/openapi.json")
    assert r.status == 200, r
    doc = r.json
    assert isinstance(doc.get("openapi"), str) and doc["openapi"].startswith("3.1"), doc.get("openapi")
    assert isinstance(doc.get("info"), dict) and doc["info"].get("title") and doc["info"].get("version")
    paths = doc.get("paths")
    assert isinstance(paths, dict)
    for path, method in API_PATHS.items():
        if path == "/api/messages/" and path not in paths:
            path = "/api/messages"
        assert path in paths, "openapi.json lacks %s (has %s)" % (path, sorted(paths))
        assert method in paths[path], "openapi.json lacks %s %s" % (method.upper(), path)
    schemas = doc.get("components", {}).get("schemas", {})
    for name, fields in (("Message", ("id", "conversation_id", "sender_id", "receiver_id", "content", "created_at")),
                         ("MessagePage", ("total", "page", "limit", "data", "next_cursor")),
                         ("Conversation", ("id", "user1_id", "user2_id", "last_message_at", "last_message_content")),
                         ("ConversationPage", ("total", "page", "limit", "data", "next_cursor"))):
        assert name in schemas, "components.schemas lacks %s (has %s)" % (name, sorted(schemas))
        props = schemas[name].get("properties", {})
        for f in fields:
            assert f in props, "schema %s lacks property %s" % (name, f)
    assert "example" in r.body.decode(), "the document has examples"
    # every $ref points at something that exists
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref" and isinstance(v, str):
                    refs.add(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    for ref in refs:
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, "dangling $ref %s" % ref
            node = node[part]


def test_docs_page(api):
    r = api.get("/docs", expect_json=False)
    assert r.status == 200, r
    assert (r.header("Content-Type") or "").lower().startswith("text/html"), r.header("Content-Type")
    text = r.body.decode("utf-8", "replace").lower()
    assert "<html" in text and "openapi.json" in text


def test_docs_assets_referenced_by_the_page_are_served(api):
    """Whatever local scripts/styles /docs references must load (no broken page)."""
    text = api.get("/docs", expect_json=False).body.decode("utf-8", "replace")
    for src in re.findall(r'(?:src|href)="([^"]+)"', text):
        if src.startswith(("http:", "https:", "//", "data:", "#", "mailto:")):
            continue
        path = urllib.parse.urljoin("/docs", src)
        r = api.get(path, expect_json=path.endswith(".json"))
        assert r.status == 200, "/docs references %s which answers %d" % (src, r.status)


@pytest.mark.parametrize("path", ["/nope", "/api", "/api/messages/conversation", "/api/messages/conversation/",
                                  "/api/conversations/user/1/x", "/api/conversations/1/extra", "/health/x",
                                  "/api/messages/conversation/1/after", "/API/messages/"])
def test_unknown_path_404(api, path):
    check_detail(api.get(path), 404, "Not Found")


@pytest.mark.parametrize("method,path,allowed", [
    ("GET", "/api/messages/", "POST"),
    ("DELETE", "/api/messages/", "POST"),
    ("PUT", "/api/messages", "POST"),
    ("POST", "/api/conversations/1", "GET"),
    ("DELETE", "/api/conversations/1", "GET"),
    ("POST", "/api/messages/conversation/1", "GET"),
    ("PATCH", "/api/conversations/user/1", "GET"),
    ("POST", "/health", "GET"),
    ("POST", "/", "GET"),
])
def test_wrong_method_405_with_allow(api, method, path, allowed):
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    r = api.request(method, path, body=body)
    check_detail(r, 405, "Method Not Allowed")
    allow = r.header("Allow")
    assert allow, "405 without an Allow header"
    methods = {m.strip().upper() for m in allow.split(",")}
    assert allowed in methods, "Allow: %r lacks %s" % (allow, allowed)
    assert method not in methods


def test_keep_alive_serves_many_requests_on_one_connection(server):
    c = server.client()
    try:
        a, b = new_pair()
        for i in range(5):
            c.send(a, b, "ka %d" % i)
            r = c.get("/health")
            assert r.status == 200
            assert (r.header("Connection") or "").lower() != "close", "keep-alive connection closed after a GET"
        sock = c.conn.sock
        assert sock is not None, "the server closed a keep-alive connection"
        local = sock.getsockname()
        assert c.get("/").status == 200
        assert c.conn.sock is not None and c.conn.sock.getsockname() == local, "the connection was not reused"
    finally:
        c.close()


def test_errors_do_not_leak_internals(api):
    bad = [api.post("/api/messages/", b"{\"sender_id\": 1, \"receiver_id\": 2, \"content\": 5}"),
           api.post("/api/messages/", b"{'x': 1}"),
           api.get("/api/messages/conversation/1'%22;--"),
           api.get("/api/messages/conversation/1/before?before_timestamp=1'%22;--"),
           api.get("/api/conversations/user/1?cursor=%27%22%3B--")]
    for r in bad:
        assert 400 <= r.status < 500, r
        text = r.body.decode("utf-8", "replace").lower()
        for word in ("select ", "insert ", "sqlite", "traceback", "stack trace", ".c:", "cql", "keyspace",
                     "where "):
            assert word not in text, "error body leaks %r: %r" % (word, r.body)


def test_log_lines_never_contain_message_contents(api, server):
    a, b = new_pair()
    secret = "secret-" + os.urandom(8).hex()
    api.send(a, b, secret)
    api.post("/api/messages/", {"sender_id": a, "receiver_id": a, "content": secret + "-rejected"})
    time.sleep(0.2)
    assert secret not in server.stderr(), "message contents appear in the server log"


def test_query_strings_on_service_endpoints(api):
    r = api.get("/health?x=1&y=%20")
    assert r.status == 200 and r.json == {"status": "ok"}
    assert json.loads(api.get("/?").body) == api.get("/").json
