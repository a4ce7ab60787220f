"""Authentication and access rules (API.md "Authentication"), against servers started with
auth on: HS256 (with issuer and audience), RS256 and ES256 (PEM keys made with openssl).
Tokens are made here (jwt_tokens.py), never by the server's code.

- no token, a malformed one, expired, not yet valid, wrong issuer/audience, another
  algorithm, `none`, tampered, algorithm confusion: 401 + WWW-Authenticate: Bearer;
- another user's token: 403 for sending as / listing of someone else, and a conversation one
  is not part of answers exactly like one that does not exist (404), on every endpoint,
  pages, cursors and /before included;
- the service endpoints stay open.
"""

import os
import subprocess
import time

import pytest

from conftest import BIN, WRAPPER
from helpers import check_422, check_conversation, check_detail, check_message, check_page, new_pair, new_user
from jwt_tokens import KeyPair, b64url, b64url_json, bearer, claims_for, hs256, signing_input

SECRET = "test secret of the black-box suite, 32+ bytes"
ISSUER = "https://login.messenger.test"
AUDIENCE = "messenger"


def hs_token(user, **kw):
    return hs256(claims_for(user, iss=ISSUER, aud=AUDIENCE, **kw), SECRET)


@pytest.fixture(scope="module")
def hs_server(start_server):
    return start_server("auth-hs256", env={"MESSENGER_JWT_SECRET": SECRET, "MESSENGER_JWT_ISSUER": ISSUER,
                                           "MESSENGER_JWT_AUDIENCE": AUDIENCE})


@pytest.fixture(scope="module")
def keys(workdir):
    return {kind: KeyPair(workdir, kind) for kind in ("RS256", "ES256")}


@pytest.fixture(scope="module")
def rs_server(start_server, keys):
    return start_server("auth-rs256", env={"MESSENGER_JWT_PUBLIC_KEY_FILE": keys["RS256"].public})


@pytest.fixture(scope="module")
def es_server(start_server, keys):
    return start_server("auth-es256", env={"MESSENGER_JWT_PUBLIC_KEY_FILE": keys["ES256"].public})


@pytest.fixture
def hs(hs_server):
    c = hs_server.client()
    yield c
    c.close()


def check_401(r):
    check_detail(r, 401, "Not authenticated")
    assert r.header("WWW-Authenticate") == "Bearer", r.headers


def send(c, token, sender, receiver, content="hello"):
    return c.post("/api/messages/", {"sender_id": sender, "receiver_id": receiver, "content": content},
                  headers=bearer(token) if token else None)


def conversation_of(c, a, b, n=1):
    """a and b exchange n messages (as themselves); returns the conversation id."""
    m = None
    for i in range(n):
        sender, receiver = (a, b) if i % 2 == 0 else (b, a)
        r = send(c, hs_token(sender), sender, receiver, "m%d" % i)
        assert r.status == 201, r
        m = r.json
    return m["conversation_id"]


def endpoints(conv, user):
    """(method, path, body) of every endpoint that needs a caller."""
    return [
        ("POST", "/api/messages/", {"sender_id": user, "receiver_id": user + 1, "content": "x"}),
        ("POST", "/api/messages", {"sender_id": user, "receiver_id": user + 1, "content": "x"}),
        ("GET", "/api/messages/conversation/%d" % conv, None),
        ("GET", "/api/messages/conversation/%d/before?before_timestamp=2030-01-01T00:00:00Z" % conv, None),
        ("GET", "/api/conversations/user/%d" % user, None),
        ("GET", "/api/conversations/%d" % conv, None),
    ]


# --- 401 -----------------------------------------------------------------------------------

def test_every_endpoint_needs_a_token(hs):
    a, b = new_pair()
    conv = conversation_of(hs, a, b)
    for method, path, body in endpoints(conv, a):
        check_401(hs.request(method, path, body=body))
    # nothing was stored by the refused sends
    r = hs.get("/api/messages/conversation/%d" % conv, headers=bearer(hs_token(a)))
    assert r.status == 200 and r.json["total"] == 1, r


def test_service_endpoints_stay_open(hs):
    for path in ("/", "/health", "/ready", "/openapi.json"):
        assert hs.get(path).status == 200, path
    r = hs.get("/docs", expect_json=False)
    assert r.status == 200


def test_malformed_authorization_headers(hs):
    user = new_user()
    good = hs_token(user)
    path = "/api/conversations/user/%d" % user
    for value in ("", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token " + good, "Bearer" + good,
                  "Bearer not-a-jwt", "Bearer a.b", "Bearer a.b.c", "Bearer " + good + ".x",
                  "Bearer " + good[:-3], "Bearer " + good + "=", "Bearer " + "A" * 9000):
        check_401(hs.get(path, headers={"Authorization": value}))
    # the scheme is case-insensitive (RFC 7235); the token is not
    assert hs.get(path, headers={"Authorization": "bearer " + good}).status == 200
    assert hs.get(path, headers={"Authorization": "BEARER  " + good}).status == 200


def test_query_token_is_not_accepted_on_api_endpoints(hs):
    user = new_user()
    r = hs.get("/api/conversations/user/%d" % user, params={"access_token": hs_token(user)})
    check_401(r)


def test_expiry_and_not_before_with_30s_leeway(hs):
    user = new_user()
    path = "/api/conversations/user/%d" % user
    now = int(time.time())
    cases = [
        (claims_for(user, now=now - 3600, ttl=3600 - 120, iss=ISSUER, aud=AUDIENCE), 401),  # expired 2 min ago
        (claims_for(user, now=now - 3600, ttl=3600 - 10, iss=ISSUER, aud=AUDIENCE), 200),   # within leeway
        (claims_for(user, nbf=now + 120, iss=ISSUER, aud=AUDIENCE), 401),                   # not yet valid
        (claims_for(user, nbf=now + 10, iss=ISSUER, aud=AUDIENCE), 200),                    # within leeway
        ({"sub": str(user), "iss": ISSUER, "aud": AUDIENCE}, 401),                           # no exp
        ({"sub": str(user), "iss": ISSUER, "aud": AUDIENCE, "exp": "%d" % (now + 60)}, 401),  # exp a string
    ]
    for claims, status in cases:
        r = hs.get(path, headers=bearer(hs256(claims, SECRET)))
        if status == 401:
            check_401(r)
        else:
            assert r.status == 200, (claims, r)


def test_issuer_and_audience(hs):
    user = new_user()
    path = "/api/conversations/user/%d" % user
    ok = [claims_for(user, iss=ISSUER, aud=AUDIENCE), claims_for(user, iss=ISSUER, aud=["other", AUDIENCE])]
    bad = [claims_for(user, iss="https://evil.test", aud=AUDIENCE), claims_for(user, aud=AUDIENCE),
           claims_for(user, iss=ISSUER, aud="other"), claims_for(user, iss=ISSUER),
           claims_for(user, iss=ISSUER, aud=["other"])]
    for claims in ok:
        assert hs.get(path, headers=bearer(hs256(claims, SECRET))).status == 200, claims
    for claims in bad:
        check_401(hs.get(path, headers=bearer(hs256(claims, SECRET))))


def test_subject_forms(hs):
    user = new_user()
    path = "/api/conversations/user/%d" % user
    as_int = claims_for(user, iss=ISSUER, aud=AUDIENCE)
    as_int["sub"] = user
    assert hs.get(path, headers=bearer(hs256(as_int, SECRET))).status == 200
    for sub in ("0", "-1", "x%d" % user, "%d.0" % user, str(2**53), "", None):
        claims = claims_for(user, iss=ISSUER, aud=AUDIENCE)
        if sub is None:
            del claims["sub"]
        else:
            claims["sub"] = sub
        check_401(hs.get(path, headers=bearer(hs256(claims, SECRET))))


def test_wrong_algorithms_and_none(hs):
    user = new_user()
    path = "/api/conversations/user/%d" % user
    claims = claims_for(user, iss=ISSUER, aud=AUDIENCE)
    unsigned = signing_input({"alg": "none", "typ": "JWT"}, claims)
    for token in (unsigned + ".", unsigned + ".AAAA",
                  signing_input({"alg": "None"}, claims) + ".",
                  hs256(claims, SECRET, header={"alg": "HS512", "typ": "JWT"}),
                  hs256(claims, SECRET, header={"alg": "RS256", "typ": "JWT"}),
                  hs256(claims, SECRET, header={"typ": "JWT"})):
        check_401(hs.get(path, headers=bearer(token)))


def test_tampered_tokens(hs):
    a, b = new_pair()
    good = hs_token(a)
    head, payload, sig = good.split(".")
    # b's claims under a's signature
    other = b64url_json(claims_for(b, iss=ISSUER, aud=AUDIENCE))
    check_401(hs.get("/api/conversations/user/%d" % b, headers=bearer(head + "." + other + "." + sig)))
    # one bit of the signature
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    check_401(hs.get("/api/conversations/user/%d" % a, headers=bearer(head + "." + payload + "." + flipped)))
    # signed with another secret
    check_401(hs.get("/api/conversations/user/%d" % a,
                     headers=bearer(hs256(claims_for(a, iss=ISSUER, aud=AUDIENCE), SECRET + "x"))))
    # the genuine token still works (a refused variant is not cached as good, nor the reverse)
    assert hs.get("/api/conversations/user/%d" % a, headers=bearer(good)).status == 200


# --- 403 / 404: acting as oneself, conversations one is part of -----------------------------

def test_send_only_as_oneself(hs):
    a, b = new_pair()
    r = send(hs, hs_token(a), a, b)
    assert r.status == 201, r
    check_message(r.json)
    check_detail(send(hs, hs_token(a), b, a), 403, "Forbidden")
    # validation first: a bad body is 422 whoever sends it
    check_422(hs.post("/api/messages/", {"sender_id": b}, headers=bearer(hs_token(a))))
    # nothing stored by the refused send
    r = hs.get("/api/messages/conversation/%d" % r.json["conversation_id"], headers=bearer(hs_token(a)))
    assert r.json["total"] == 1, r


def test_own_conversation_list_only(hs):
    a, b = new_pair()
    conv = conversation_of(hs, a, b)
    r = hs.get("/api/conversations/user/%d" % a, headers=bearer(hs_token(a)))
    assert r.status == 200, r
    check_page(r.json, check_conversation)
    assert [c["id"] for c in r.json["data"]] == [conv]
    check_detail(hs.get("/api/conversations/user/%d" % a, headers=bearer(hs_token(b))), 403, "Forbidden")
    check_detail(hs.get("/api/conversations/user/%d" % a, params={"limit": 5},
                        headers=bearer(hs_token(new_user()))), 403, "Forbidden")


def test_participants_read_everything(hs):
    a, b = new_pair()
    conv = conversation_of(hs, a, b, n=5)
    for user in (a, b):
        h = bearer(hs_token(user))
        r = hs.get("/api/conversations/%d" % conv, headers=h)
        assert r.status == 200 and r.json["id"] == conv, r
        r = hs.get("/api/messages/conversation/%d" % conv, params={"limit": 2}, headers=h)
        assert r.status == 200 and r.json["total"] == 5 and len(r.json["data"]) == 2, r
        r2 = hs.get("/api/messages/conversation/%d" % conv, params={"limit": 2, "cursor": r.json["next_cursor"]},
                    headers=h)
        assert r2.status == 200 and len(r2.json["data"]) == 2, r2
        r = hs.get("/api/messages/conversation/%d/before" % conv,
                   params={"before_timestamp": "2000-01-01T00:00:00Z"}, headers=h)
        assert r.status == 200 and r.json["data"] == [] and r.json["total"] == 5, r
        r = hs.get("/api/messages/conversation/%d" % conv, params={"page": 9}, headers=h)
        assert r.status == 200 and r.json["data"] == [] and r.json["total"] == 5, r


def test_outsider_cannot_tell_a_conversation_exists(hs):
    """Every read of a conversation by someone outside it answers byte for byte like the same
    read of a conversation id that does not exist: no total, no cursor, no timing-free hint."""
    a, b = new_pair()
    conv = conversation_of(hs, a, b, n=3)
    page = hs.get("/api/messages/conversation/%d" % conv, params={"limit": 1}, headers=bearer(hs_token(a))).json
    cursor = page["next_cursor"]
    assert cursor
    missing = conv + 10**12
    outsider = bearer(hs_token(new_user()))

    def reads(cid):
        base = "/api/messages/conversation/%d" % cid
        return [
            hs.get("/api/conversations/%d" % cid, headers=outsider),
            hs.get(base, headers=outsider),
            hs.get(base, params={"page": 1, "limit": 100}, headers=outsider),
            hs.get(base, params={"page": 50}, headers=outsider),  # past the end: would be an empty page
            hs.get(base, params={"cursor": cursor}, headers=outsider),
            hs.get(base + "/before", params={"before_timestamp": "2100-01-01T00:00:00Z"}, headers=outsider),
            hs.get(base + "/before", params={"before_timestamp": "1999-01-01T00:00:00Z"}, headers=outsider),
            hs.get(base + "/before", params={"before_timestamp": "2100-01-01T00:00:00Z", "cursor": cursor},
                   headers=outsider),
        ]

    for existing, absent in zip(reads(conv), reads(missing)):
        check_detail(existing, 404, "Conversation not found")
        assert existing.body == absent.body
        assert existing.status == absent.status
    # validation still comes first, alike for both
    check_422(hs.get("/api/messages/conversation/%d" % conv, params={"limit": 0}, headers=outsider))
    check_422(hs.get("/api/messages/conversation/%d" % missing, params={"limit": 0}, headers=outsider))


def test_another_users_token_on_every_endpoint(hs):
    a, b = new_pair()
    conv = conversation_of(hs, a, b)
    c = new_user()
    for method, path, body in endpoints(conv, a):
        r = hs.request(method, path, body=body, headers=bearer(hs_token(c)))
        if method == "POST" or "/user/" in path:
            check_detail(r, 403, "Forbidden")
        else:
            check_detail(r, 404, "Conversation not found")


# --- RS256 / ES256 ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["RS256", "ES256"])
def test_public_key_algorithms(request, keys, kind):
    server = request.getfixturevalue("rs_server" if kind == "RS256" else "es_server")
    c = server.client()
    pair = keys[kind]
    other = keys["ES256" if kind == "RS256" else "RS256"]
    a, b = new_pair()
    try:
        token = pair.sign(claims_for(a))
        r = send(c, token, a, b)
        assert r.status == 201, r
        conv = r.json["conversation_id"]
        r = c.get("/api/messages/conversation/%d" % conv, headers=bearer(token))
        assert r.status == 200 and r.json["total"] == 1, r
        check_detail(c.get("/api/conversations/%d" % conv, headers=bearer(pair.sign(claims_for(new_user())))),
                     404, "Conversation not found")
        check_401(c.get("/api/conversations/%d" % conv))
        claims = claims_for(a)
        refused = [
            # algorithm confusion: HS256 with the public key's PEM bytes as the HMAC secret
            hs256(claims, pair.public_pem),
            hs256(claims, pair.public_pem.strip()),
            # the other public-key algorithm, and the same algorithm named by the other key's kind
            other.sign(claims),
            other.sign(claims, header={"alg": kind}),
            # tampered payload
            token.split(".")[0] + "." + b64url_json(claims_for(b)) + "." + token.split(".")[2],
            # none
            signing_input({"alg": "none"}, claims) + ".",
            # an expired token, genuinely signed
            pair.sign(claims_for(a, now=int(time.time()) - 7200, ttl=3600)),
        ]
        for bad in refused:
            check_401(c.get("/api/conversations/%d" % conv, headers=bearer(bad)))
    finally:
        c.close()


def test_es256_signature_in_der_form_is_refused(es_server, keys):
    pair = keys["ES256"]
    user = new_user()
    head = signing_input({"alg": "ES256"}, claims_for(user))
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", pair.private], input=head.encode("ascii"),
                         check=True, capture_output=True).stdout
    c = es_server.client()
    try:
        check_401(c.get("/api/conversations/user/%d" % user, headers=bearer(head + "." + b64url(der))))
        assert c.get("/api/conversations/user/%d" % user, headers=bearer(pair.sign(claims_for(user)))).status == 200
    finally:
        c.close()


# --- the token command and configuration errors ----------------------------------------------

def run_bin(args, env_extra, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESSENGER_JWT_")}
    env.update(env_extra)
    return subprocess.run(WRAPPER + [BIN] + args, env=env, capture_output=True, timeout=timeout)


def test_token_command_makes_tokens_the_server_accepts(hs):
    user = new_user()
    r = run_bin(["token", "--user", str(user), "--ttl", "5m"],
                {"MESSENGER_JWT_SECRET": SECRET, "MESSENGER_JWT_ISSUER": ISSUER, "MESSENGER_JWT_AUDIENCE": AUDIENCE})
    assert r.returncode == 0, r.stderr
    token = r.stdout.decode().strip()
    assert token.count(".") == 2
    resp = hs.get("/api/conversations/user/%d" % user, headers=bearer(token))
    assert resp.status == 200, resp
    check_detail(hs.get("/api/conversations/user/%d" % (user + 1), headers=bearer(token)), 403, "Forbidden")


def test_token_command_usage():
    assert run_bin(["token", "--help"], {}).returncode == 0
    assert b"--user" in run_bin(["token", "--help"], {}).stdout
    assert run_bin(["token"], {"MESSENGER_JWT_SECRET": SECRET}).returncode == 2
    assert run_bin(["token", "--user", "0"], {"MESSENGER_JWT_SECRET": SECRET}).returncode == 2
    assert run_bin(["token", "--user", "1", "--ttl", "1y"], {"MESSENGER_JWT_SECRET": SECRET}).returncode == 2
    r = run_bin(["token", "--user", "1"], {})
    assert r.returncode == 1 and b"MESSENGER_JWT_SECRET" in r.stderr


@pytest.mark.parametrize("env, message", [
    ({"MESSENGER_JWT_SECRET": "too short"}, b"at least 32 bytes"),
    ({"MESSENGER_JWT_SECRET": SECRET, "MESSENGER_JWT_PUBLIC_KEY_FILE": "/etc/hostname"}, b"not both"),
    ({"MESSENGER_JWT_PUBLIC_KEY_FILE": "/nonexistent/key.pem"}, b"/nonexistent/key.pem"),
    ({"MESSENGER_JWT_PUBLIC_KEY_FILE": "/etc/hostname"}, b"PEM"),
    ({"MESSENGER_SEND_RATE": "fast"}, b"MESSENGER_SEND_RATE"),
    ({"MESSENGER_SEND_RATE": "-1"}, b"MESSENGER_SEND_RATE"),
    ({"MESSENGER_SEND_RATE": "2", "MESSENGER_SEND_BURST": "0"}, b"MESSENGER_SEND_BURST"),
])
def test_bad_configuration_stops_the_server_at_start(workdir, env, message):
    r = run_bin(["serve", "--host", "127.0.0.1", "--port", "0", "--db", os.path.join(workdir, "never.db")], env)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert message in r.stderr, r.stderr


def test_openapi_offers_bearer_auth(hs):
    """/docs (Swagger UI) shows an Authorize button for the bearerAuth scheme of the document."""
    doc = hs.get("/openapi.json").json
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer", scheme
    for path, item in doc["paths"].items():
        for op in item.values():
            if path.startswith("/api/"):
                assert {"bearerAuth": []} in op["security"], path
                assert "401" in op["responses"], path
            else:
                assert op["security"] == [], path


# --- read marks (POST /api/conversations/{id}/read) --------------------------------------------

def test_read_marks_as_oneself_only(hs):
    a, b = new_pair()
    conv = conversation_of(hs, a, b, n=2)
    msg = hs.get("/api/messages/conversation/%d" % conv, headers=bearer(hs_token(b))).json["data"][0]
    path = "/api/conversations/%d/read" % conv
    check_401(hs.post(path, {"user_id": b, "message_id": msg["id"]}))
    # user_id may be omitted: it is the token's user
    r = hs.post(path, {"message_id": msg["id"]}, headers=bearer(hs_token(b)))
    assert r.status == 200 and r.json["user_id"] == b, r
    r = hs.post(path, {"user_id": b, "message_id": msg["id"]}, headers=bearer(hs_token(b)))
    assert r.status == 200 and r.json["last_read_message_id"] == msg["id"], r
    # as someone else: 403; an outsider marking as themself: 404 like a missing conversation
    check_detail(hs.post(path, {"user_id": a, "message_id": msg["id"]}, headers=bearer(hs_token(b))), 403,
                 "Forbidden")
    outsider = new_user()
    existing = hs.post(path, {"message_id": msg["id"]}, headers=bearer(hs_token(outsider)))
    missing = hs.post("/api/conversations/%d/read" % (conv + 10**12), {"message_id": msg["id"]},
                      headers=bearer(hs_token(outsider)))
    check_detail(existing, 404, "Conversation not found")
    assert existing.body == missing.body


# ---- the event stream and typing (API.md: header or ?access_token=; user_id may be omitted) ----

def test_event_stream_needs_a_token_in_the_header_or_the_query(hs_server):
    from events_client import SseStream
    a, b = new_pair()
    s = SseStream(hs_server, b)
    assert s.status == 401 and s.headers.get("www-authenticate") == "Bearer"
    s.close()
    s = SseStream(hs_server, b, access_token="not.a.token")
    assert s.status == 401
    s.close()
    s = SseStream(hs_server, a, access_token=hs_token(b))  # another user's stream
    assert s.status == 403
    s.close()
    s = SseStream(hs_server, None, access_token=hs_token(b))  # user_id omitted: the token's user
    assert s.status == 200
    s.wait_position()
    c = hs_server.client()
    r = send(c, hs_token(a), a, b, "live")
    assert r.status == 201
    ev = s.next_event()
    assert ev["event"] == "message" and ev["data"]["message"] == r.json
    s.close()
    c.close()


def test_event_stream_access_token_is_not_logged(hs_server):
    from events_client import SseStream
    user = new_user()
    token = hs_token(user)
    s = SseStream(hs_server, user, access_token=token)
    assert s.status == 200
    s.close()
    time.sleep(0.2)
    assert token.split(".")[2] not in hs_server.stderr()


def test_typing_acts_only_as_the_token_user(hs):
    a, b = new_pair()
    cid = conversation_of(hs, a, b)
    path = "/api/conversations/%d/typing" % cid
    check_401(hs.post(path, {"user_id": a}))
    check_detail(hs.post(path, {"user_id": a}, headers=bearer(hs_token(b))), 403, "Forbidden")
    r = hs.post(path, {}, headers=bearer(hs_token(a)))  # user_id omitted: the token's user
    assert r.status == 202 and r.json == {"status": "accepted"}, r
    outsider = new_user()
    check_detail(hs.post(path, {}, headers=bearer(hs_token(outsider))), 404, "Conversation not found")
