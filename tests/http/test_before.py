"""GET /api/messages/conversation/{id}/before: messages with created_at strictly before
before_timestamp, newest first, in every form pydantic accepts for a datetime (ISO 8601, bare
dates, Unix seconds or milliseconds, times before 1970); pages and cursors inside the filter;
total stays the whole conversation's count."""

import datetime
import time

import pytest

from helpers import ID_MAX, check_422, check_detail, check_message, check_newest_first, check_page, cursor_walk, \
    fmt_us, new_pair, parse_ts, unix_decimal


@pytest.fixture(scope="module")
def conv(server):
    """20 messages with a whole-second boundary between the 10th and the 11th.
    Returns (conversation id, messages oldest first, the boundary in Unix seconds)."""
    c = server.client()
    a, b = new_pair()

    def spaced(send):
        # created_at has millisecond precision: messages sent in the same millisecond tie, and
        # the tests below count on each message having a created_at of its own
        time.sleep(0.002)
        return send()

    sent = [spaced(lambda: c.send(a, b, "early %d" % i)) if i % 2 else spaced(lambda: c.send(b, a, "early %d" % i))
            for i in range(10)]
    boundary = int(parse_ts(sent[-1]["created_at"]) // 1_000_000) + 1
    while time.time() < boundary + 0.01:
        time.sleep(0.01)
    sent += [spaced(lambda: c.send(a, b, "late %d" % i)) for i in range(10)]
    assert len({m["created_at"] for m in sent}) == len(sent), "two messages share a created_at"
    c.close()
    assert parse_ts(sent[10]["created_at"]) >= boundary * 1_000_000, "server clock differs from the test's"
    return sent[0]["conversation_id"], sent, boundary


def _expected(sent, t_us):
    """Strictly before t_us, newest first."""
    return [m["id"] for m in reversed(sent) if parse_ts(m["created_at"]) < t_us]


def _check(api, conv, value, t_us, limit=100):
    cid, sent, _ = conv
    r = api.before(cid, before_timestamp=value, limit=limit)
    assert r.status == 200, "before_timestamp=%r: %r" % (value, r)
    p = r.json
    check_page(p, check_message, page=1, limit=limit)
    assert p["total"] == len(sent), "total is the whole conversation's count"
    got = [m["id"] for m in p["data"]]
    assert got == _expected(sent, t_us), "before_timestamp=%r (t=%d us)" % (value, t_us)
    check_newest_first(p["data"])
    return got


def test_own_created_at_excludes_the_message(api, conv):
    cid, sent, _ = conv
    for k in (0, 1, 9, 10, 15, 19):
        t = parse_ts(sent[k]["created_at"])
        got = _check(api, conv, sent[k]["created_at"], t)
        assert sent[k]["id"] not in got, "strictly before: a message's own created_at excludes it"
        got = _check(api, conv, fmt_us(t + 1), t + 1)
        assert sent[k]["id"] in got, "one microsecond later includes it"


@pytest.mark.parametrize("minutes", [0, 120, -330, 14 * 60, -12 * 60], ids=["+00:00", "+02:00", "-05:30", "+14:00",
                                                                              "-12:00"])
def test_offset_forms(api, conv, minutes):
    _, sent, _ = conv
    for k in (3, 12):
        t = parse_ts(sent[k]["created_at"])
        for tt in (t, t + 1):
            v = fmt_us(tt, tz_minutes=minutes)
            assert ("+" if minutes >= 0 else "-") in v[19:]
            _check(api, conv, v, tt)


def test_no_zone_means_utc(api, conv):
    _, sent, _ = conv
    for k in (4, 14):
        t = parse_ts(sent[k]["created_at"])
        for tt in (t, t + 1):
            _check(api, conv, fmt_us(tt, zone=""), tt)


def test_whole_seconds_and_short_fractions(api, conv):
    _, sent, boundary = conv
    b_us = boundary * 1_000_000
    split = _check(api, conv, fmt_us(b_us)[:19] + "Z", b_us)
    assert len(split) == 10, "the boundary second splits the early and late messages"
    _check(api, conv, fmt_us(b_us, tz_minutes=60)[:19] + "+01:00", b_us)
    _check(api, conv, fmt_us(b_us)[:19], b_us)
    for k in (5, 15):
        t = parse_ts(sent[k]["created_at"])
        ms = -(-t // 1000) * 1000  # next whole millisecond
        _check(api, conv, fmt_us(ms)[:23] + "Z", ms)
        ds = -(-t // 100_000) * 100_000  # next tenth of a second
        _check(api, conv, fmt_us(ds)[:21] + "Z", ds)


def test_unix_seconds_integer(api, conv):
    _, sent, boundary = conv
    got = _check(api, conv, str(boundary), boundary * 1_000_000)
    assert len(got) == 10
    assert _check(api, conv, str(boundary + 3600), (boundary + 3600) * 1_000_000) == [m["id"] for m in
                                                                                    reversed(sent)]
    assert _check(api, conv, "0", 0) == []
    assert _check(api, conv, str(boundary - 86400), (boundary - 86400) * 1_000_000) == []


def test_unix_seconds_decimal(api, conv):
    _, sent, boundary = conv
    for k in (2, 11, 19):
        t = parse_ts(sent[k]["created_at"])
        got = _check(api, conv, unix_decimal(t), t)
        assert sent[k]["id"] not in got
    got = _check(api, conv, "%d.5" % (boundary - 1), (boundary - 1) * 1_000_000 + 500_000)
    assert _check(api, conv, "%d.000" % boundary, boundary * 1_000_000) == _expected(sent, boundary * 1_000_000)


def test_far_past_and_future(api, conv):
    _, sent, _ = conv
    assert _check(api, conv, "1970-01-01T00:00:00Z", 0) == []
    assert _check(api, conv, "2000-06-01T12:00:00.000000+05:00", 0) == []
    everything = [m["id"] for m in reversed(sent)]
    assert _check(api, conv, "9999-12-31T23:59:59.999999Z", 253402300799999999) == everything
    assert _check(api, conv, "2999-01-01T00:00:00Z", 32472144000000000) == everything


# --- pydantic's other forms: bare dates, milliseconds, before 1970 ---------------------------

def test_bare_date_is_midnight_utc(api, conv):
    _, sent, _ = conv
    day = datetime.datetime.fromtimestamp(parse_ts(sent[0]["created_at"]) // 1_000_000, datetime.timezone.utc).date()
    got = {}
    for delta in (-1, 0, 1, 2):
        d = day + datetime.timedelta(days=delta)
        midnight_us = (d - datetime.date(1970, 1, 1)).days * 86400 * 1_000_000
        got[delta] = _check(api, conv, d.isoformat(), midnight_us)
    assert got[-1] == [] and got[0] == []
    assert got[2] == [m["id"] for m in reversed(sent)]


def test_unix_milliseconds_as_javascript_sends_them(api, conv):
    _, sent, boundary = conv
    # Date.now(): 13 digits, above the 2e10 watershed, so milliseconds
    assert len(_check(api, conv, str(boundary * 1000), boundary * 1_000_000)) == 10
    for k in (1, 10, 17):
        t = parse_ts(sent[k]["created_at"])
        ms = -(-t // 1000)  # the next whole millisecond
        _check(api, conv, str(ms), ms * 1000)
        got = _check(api, conv, "%d.%03d" % divmod(t, 1000), t)  # decimal milliseconds keep the microseconds
        assert sent[k]["id"] not in got
    later_ms = int(time.time() * 1000) + 60_000
    assert _check(api, conv, str(later_ms), later_ms * 1000) == [m["id"] for m in reversed(sent)]


def test_watershed_between_seconds_and_milliseconds(api, conv):
    _, sent, _ = conv
    everything = [m["id"] for m in reversed(sent)]
    assert _check(api, conv, "20000000000", 20000000000 * 1_000_000) == everything  # seconds: year 2603
    assert _check(api, conv, "20000000001", 20000000001 * 1000) == []  # milliseconds: 1970-08-20


@pytest.mark.parametrize("value", ["1969-12-31T23:59:59Z", "1969-12-31", "1900-01-01T00:00:00+02:00",
                                   "0001-01-01T00:00:00Z", "0001-01-01", "-1", "-1.5", "-86400",
                                   "-20000000001", "-1795559281123", "1970-01-01T00:59:59+01:00"])
def test_before_1970_is_valid_and_selects_nothing(api, conv, value):
    cid, sent, _ = conv
    r = api.before(cid, before_timestamp=value)
    assert r.status == 200, "before_timestamp=%r: %r" % (value, r)
    check_page(r.json, check_message, page=1, limit=20)
    assert r.json["data"] == [] and r.json["next_cursor"] is None
    assert r.json["total"] == len(sent)


@pytest.mark.parametrize("limit", [1, 4, 7, 13, 100])
def test_pages_and_cursor_inside_the_filter(api, conv, limit):
    cid, sent, _ = conv
    t = parse_ts(sent[13]["created_at"])
    value = sent[13]["created_at"]
    expected = _expected(sent, t)
    assert len(expected) == 13
    fetch = lambda **q: api.before(cid, before_timestamp=value, **q)  # noqa: E731
    by_page = []
    page = 1
    while True:
        p = fetch(page=page, limit=limit).json
        check_page(p, check_message, page=page, limit=limit)
        assert p["total"] == len(sent)
        by_page += [m["id"] for m in p["data"]]
        more = page * limit < len(expected)
        assert (p["next_cursor"] is not None) == more, "page %d: next_cursor %r" % (page, p["next_cursor"])
        assert len(p["data"]) == (limit if more else len(expected) - (page - 1) * limit)
        if not more:
            break
        page += 1
    assert by_page == expected
    by_cursor, _ = cursor_walk(fetch, limit, check_message)
    assert [m["id"] for m in by_cursor] == expected
    past = fetch(page=page + 1, limit=limit).json
    assert past["data"] == [] and past["next_cursor"] is None and past["total"] == len(sent)


def test_cursor_with_page_given_echoes_page(api, conv):
    cid, sent, _ = conv
    value = sent[18]["created_at"]
    expected = _expected(sent, parse_ts(value))
    p1 = api.before(cid, before_timestamp=value, limit=5).json
    p = api.before(cid, before_timestamp=value, limit=5, page=9, cursor=p1["next_cursor"]).json
    check_page(p, check_message, page=9, limit=5)
    assert [m["id"] for m in p["data"]] == expected[5:10]


def test_default_page_and_limit(api, conv):
    cid, sent, _ = conv
    r = api.before(cid, before_timestamp="9999-01-01T00:00:00Z")
    check_page(r.json, check_message, page=1, limit=20)
    assert [m["id"] for m in r.json["data"]] == [m["id"] for m in reversed(sent)][:20]
    assert r.json["next_cursor"] is None


# --- errors -----------------------------------------------------------------------------------

def test_missing_before_timestamp_422(api, conv):
    check_422(api.get("/api/messages/conversation/%s/before" % conv[0]), loc=["query", "before_timestamp"])
    check_422(api.get("/api/messages/conversation/%s/before?page=1&limit=5" % conv[0]),
              loc=["query", "before_timestamp"])


@pytest.mark.parametrize("value", ["", "abc", "yesterday", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                                   "2026-01-01T24:30:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:00+25:00",
                                   "2026-01-01T00:00:00Zjunk", "12:00:00", "1.2.3", "--1", "nan", "inf",
                                   "2026-11-06T", "2026-11-06Z", "2026-1-06", "0000-01-01", "1e9", "+5", "5.",
                                   ".5", "0x10", "253402300800000", "-62135596800001", "9999-12-31T23:59:59-00:01"])
def test_unparsable_before_timestamp_422(api, conv, value):
    check_422(api.before(conv[0], before_timestamp=value), loc=["query", "before_timestamp"])


@pytest.mark.parametrize("name,value", [("limit", "0"), ("limit", "101"), ("page", "0"), ("page", "x"),
                                        ("cursor", "nope")])
def test_bad_query_422(api, conv, name, value):
    check_422(api.before(conv[0], before_timestamp="2030-01-01T00:00:00Z", **{name: value}), loc=["query", name])


@pytest.mark.parametrize("value", ["abc", "0", "-5", str(2**53)])
def test_bad_conversation_id_422(api, value):
    check_422(api.get("/api/messages/conversation/%s/before?before_timestamp=2030-01-01T00:00:00Z" % value),
              loc=["path", "conversation_id"])


def test_unknown_conversation_404(api):
    check_detail(api.before(ID_MAX - 7, before_timestamp="2030-01-01T00:00:00Z"), 404, "Conversation not found")
