"""Stream clients for the event tests: an SSE reader and a WebSocket client on raw sockets
(stdlib only, so every frame the tests send is exactly the bytes they mean).

SseStream.next_event() returns dicts {"id", "event", "data" (parsed JSON)}; comment lines
(": ping") are counted in .pings; an "id:" line without data updates .last_id only (the stream's
start position), as EventSource does.
"""

import base64
import hashlib
import json
import os
import socket
import struct
import time

from helpers import TIME_FACTOR

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _read_head(sock, deadline):
    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head: %r" % buf[:300])
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest


class SseStream:
    def __init__(self, server, user_id, last_event_id=None, query_last_id=None, timeout=10.0, rcvbuf=None,
                 access_token=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout * TIME_FACTOR)
        self.sock.connect((server.host, server.port))
        query = []
        if user_id is not None:
            query.append("user_id=%d" % user_id)
        if query_last_id is not None:
            query.append("last_event_id=" + query_last_id)
        if access_token is not None:
            query.append("access_token=" + access_token)
        path = "/api/events?" + "&".join(query)
        req = "GET %s HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n" % path
        if last_event_id is not None:
            req += "Last-Event-ID: %s\r\n" % last_event_id
        self.sock.sendall((req + "\r\n").encode())
        self.status, self.headers, self.buf = _read_head(self.sock, time.monotonic() + timeout * TIME_FACTOR)
        self.last_id = last_event_id
        self.pings = 0
        self.retry = None
        self.closed = False

    def _parse_block(self, block):
        fields = {}
        data = []
        for line in block.split("\n"):
            if line.startswith(":"):
                self.pings += 1
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "retry":
                self.retry = int(value)
            elif name:
                fields[name] = value
        if "id" in fields:
            self.last_id = fields["id"]
        if not data:
            return None
        return {"id": fields.get("id"), "event": fields.get("event"), "data": json.loads("\n".join(data))}

    def next_event(self, timeout=10.0):
        """The next dispatched event, or None when the server closed the stream."""
        deadline = time.monotonic() + timeout * TIME_FACTOR
        while True:
            while b"\n\n" in self.buf:
                block, self.buf = self.buf.split(b"\n\n", 1)
                ev = self._parse_block(block.decode("utf-8"))
                if ev is not None:
                    return ev
            if self.closed:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("no event within %.1f s" % timeout)
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
            self.buf += chunk

    def wait_position(self, timeout=10.0):
        """Reads until the start position (an id line without data) has been seen."""
        deadline = time.monotonic() + timeout * TIME_FACTOR
        while self.last_id is None:
            while b"\n\n" in self.buf and self.last_id is None:
                block, self.buf = self.buf.split(b"\n\n", 1)
                assert self._parse_block(block.decode("utf-8")) is None, "an event before the position"
            if self.last_id is not None:
                break
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            assert chunk, "closed before the position"
            self.buf += chunk
        return self.last_id

    def close(self):
        self.sock.close()


def ws_accept(key):
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


def ws_frame(opcode, payload=b"", fin=True, masked=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    mbit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class WsClient:
    def __init__(self, server, user_id, last_event_id=None, extra_headers="", timeout=10.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout * TIME_FACTOR)
        self.sock.connect((server.host, server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        path = "/api/events?user_id=%d" % user_id
        if last_event_id is not None:
            path += "&last_event_id=" + last_event_id
        req = ("GET %s HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n") % (path, key, extra_headers)
        self.sock.sendall(req.encode())
        self.status, self.headers, self.buf = _read_head(self.sock, time.monotonic() + timeout * TIME_FACTOR)
        self.key = key

    def send(self, data):
        self.sock.sendall(data)

    def send_text(self, text):
        self.send(ws_frame(0x1, text.encode() if isinstance(text, str) else text))

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def next_frame(self, timeout=10.0):
        """(fin, opcode, payload) of the next server frame; ConnectionError when closed."""
        deadline = time.monotonic() + timeout * TIME_FACTOR
        self._fill(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        assert b1 & 0x80 == 0, "server frames must not be masked"
        n, at = b1 & 0x7F, 2
        if n == 126:
            self._fill(4, deadline)
            n, at = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._fill(10, deadline)
            n, at = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._fill(at + n, deadline)
        payload = self.buf[at:at + n]
        self.buf = self.buf[at + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def next_data_frame(self, timeout=10.0):
        """The next frame that is not a ping (pings are answered as a client should)."""
        while True:
            fin, op, payload = self.next_frame(timeout)
            if op == 0x9:
                self.send(ws_frame(0xA, payload))
                continue
            return fin, op, payload

    def next_event(self, timeout=10.0):
        fin, op, payload = self.next_data_frame(timeout)
        assert fin and op == 0x1, "expected a text frame, got opcode %d" % op
        return json.loads(payload.decode())

    def expect_close(self, code, timeout=10.0):
        fin, op, payload = self.next_data_frame(timeout)
        assert op == 0x8, "expected a close frame, got opcode %d %r" % (op, payload[:100])
        got = struct.unpack(">H", payload[:2])[0]
        assert got == code, "close code %d, expected %d (%r)" % (got, code, payload[2:])
        # the server closes the TCP connection after its close frame
        deadline = time.monotonic() + timeout * TIME_FACTOR
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                if not self.sock.recv(65536):
                    return
            except ConnectionResetError:
                return

    def close(self):
        self.sock.close()
