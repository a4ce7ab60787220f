"""GET /chat and /chat/{file}: the web chat client's files, served from the chat directory
(MESSENGER_CHAT_DIR; `make http-test` points it at web/chat). Only plain file names with a
known extension are served; anything else, and everything without a chat directory, is a
JSON 404. What the client does is tested in a real browser (tests/browser)."""

import os
import re
import urllib.parse

import pytest

from conftest import Server
from helpers import check_detail

CHAT_DIR = os.environ.get("MESSENGER_CHAT_DIR")
needs_chat_dir = pytest.mark.skipif(not CHAT_DIR, reason="MESSENGER_CHAT_DIR is not set (make http-test sets it)")


@needs_chat_dir
def test_chat_page_and_every_asset_it_references(api):
    r = api.get("/chat", expect_json=False)
    assert r.status == 200
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    page = r.body.decode("utf-8")
    assert "<title>messenger chat</title>" in page
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert refs, "the page references its script and style"
    for ref in refs:
        assert not urllib.parse.urlsplit(ref).netloc, "no external resource (no CDN): %s" % ref
        a = api.get(ref, expect_json=False)
        assert a.status == 200, "%s -> %d" % (ref, a.status)
    types = {ref.rsplit(".", 1)[1]: api.get(ref, expect_json=False).header("Content-Type") for ref in refs}
    assert types["js"] == "text/javascript; charset=utf-8"
    assert types["css"] == "text/css; charset=utf-8"
    assert api.get("/chat/", expect_json=False).status == 200
    with open(os.path.join(CHAT_DIR, "chat.js"), "rb") as f:
        assert api.get("/chat/chat.js", expect_json=False).body == f.read()


@needs_chat_dir
@pytest.mark.parametrize("name", ["..", ".hidden.js", "..%2Fchat.js", "%2E%2E", "missing.js", "chat.js.bak",
                                  "index", "README.md", "a%20b.js", "x" * 200 + ".js"])
def test_other_names_are_404(api, name):
    check_detail(api.get("/chat/" + name), 404, "Not Found")


@needs_chat_dir
def test_nul_in_the_name_is_refused(api):
    r = api.get("/chat/chat%00.js")
    assert r.status in (400, 404), r  # the transport may refuse the encoding itself (400)
    assert "detail" in r.json


@needs_chat_dir
def test_nested_paths_are_404(api):
    check_detail(api.get("/chat/a/chat.js"), 404, "Not Found")
    check_detail(api.get("/chat/../docs"), 404, "Not Found")


def test_without_chat_dir_chat_is_a_json_404(workdir, server_env):
    env = dict(server_env)
    env.pop("MESSENGER_CHAT_DIR", None)
    s = Server(workdir, env, "no-chat-dir").start()
    try:
        c = s.client()
        check_detail(c.get("/chat"), 404, "The chat client is not installed (--chat-dir / MESSENGER_CHAT_DIR)")
        check_detail(c.get("/chat/chat.js"), 404, "Not Found")
        c.close()
    finally:
        s.stop_and_check()
