"""End to end with a real browser: headless Chromium (Debian's `chromium`) opens a page whose
EventSource reads GET /api/events from the server under test and answers every `message` event
by sending a message back over fetch(); a server restart makes EventSource reconnect by itself
with Last-Event-ID, and the page reports the `reset` it then receives (the in-process log of a
new process does not know the old ids). The page is a local file, so Chromium runs with web
security off (CORS is another layer's concern)."""

import os
import subprocess
import tempfile
import time

import pytest

from procs import Replica
from helpers import new_user  # noqa: E402

CHROMIUM = "/usr/bin/chromium"

PAGE = """<!doctype html><meta charset="utf-8"><script>
const base = 'http://127.0.0.1:%(port)d', me = %(me)d, peer = %(peer)d;
function send(content) {
  return fetch(base + '/api/messages/', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                         body: JSON.stringify({sender_id: me, receiver_id: peer, content})});
}
const es = new EventSource(base + '/api/events?user_id=' + me);
let opened = 0;
es.onopen = () => { opened++; if (opened === 1) send('ready'); };
es.addEventListener('message', e => {
  const d = JSON.parse(e.data);
  if (d.message.sender_id === peer) send('ack ' + e.lastEventId + ' ' + d.id + ' ' + d.message.id);
});
es.addEventListener('reset', e => send('reset ' + e.lastEventId));
</script>
"""


def messages_from(client, conv_id, sender):
    r = client.messages(conv_id, limit=100)
    return [m["content"] for m in reversed(r.json["data"]) if m["sender_id"] == sender] if r.status == 200 else []


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def test_chromium_eventsource_reads_the_stream():
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (scripts/apt-packages.txt has it)")
    with tempfile.TemporaryDirectory(prefix="messenger-browser-") as work:
        env = dict(os.environ, MESSENGER_QUIET="1", MESSENGER_STORE="sqlite")
        db = os.path.join(work, "b.db")
        srv = Replica(work, "browser", env, ["--db", db]).start()
        me, peer = new_user(), new_user()
        page = os.path.join(work, "page.html")
        with open(page, "w") as f:
            f.write(PAGE % {"port": srv.port, "me": me, "peer": peer})
        browser = subprocess.Popen([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                                    "--disable-web-security", "--user-data-dir=" + os.path.join(work, "profile"),
                                    "--no-first-run", "file://" + page],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            c = srv.client()
            # the page announces its open stream with a message of its own (conversation 1: a new db)
            wait_for(lambda: "ready" in messages_from(c, 1, me), 60, "the page's EventSource to open")
            sent = [c.send(peer, me, "hello %d" % i) for i in range(3)]
            acks = wait_for(lambda: [x for x in messages_from(c, 1, me) if x.startswith("ack ")][:3]
                            if len([x for x in messages_from(c, 1, me) if x.startswith("ack ")]) >= 3 else None,
                            60, "three acks from the browser")
            acked = []
            for ack in acks:  # the page acknowledges each event with its own POST: they commit in any order
                _, last_event_id, data_id, message_id = ack.split(" ")
                assert last_event_id == data_id  # EventSource's lastEventId is the event's id
                acked.append(int(message_id))
            assert sorted(acked) == sorted(m["id"] for m in sent)
            c.close()
            # a restart: EventSource reconnects with Last-Event-ID, the new process answers reset
            port = srv.port
            srv.stop_and_check()
            srv = Replica(work, "browser2", env, ["--db", db]).start(port=port)
            c = srv.client()
            resets = wait_for(lambda: [x for x in messages_from(c, 1, me) if x.startswith("reset ")], 60,
                              "the browser to reconnect and report the reset")
            assert resets[0].split(" ")[1]  # the reset event carries an id
            m = c.send(peer, me, "after the restart")
            wait_for(lambda: any(x.endswith(" %d" % m["id"]) for x in messages_from(c, 1, me)), 60,
                     "the ack of a live event after the reconnect")
            c.close()
        finally:
            browser.kill()
            browser.wait()
        srv.stop_and_check()
