#!/usr/bin/python3
"""Golden byte vectors for the cql protocol unit tests, produced by an independent encoder:
the DataStax Python driver (Debian's python3-cassandra) and python3-lz4.

Requests, values, murmur3 tokens, CRCs and v5 segments come straight from the driver's
encoders. The driver has no response encoders, so response bodies are assembled here from
the driver's primitive writers and then decoded by the driver's own decoder, which must
yield the expected fields (asserted below) before the bytes are emitted.

Usage: /usr/bin/python3 tests/cql/golden/gen_golden.py > tests/unit/cql_golden.h
Deterministic: the same driver version always produces the same header.
"""
import io
import random
import sys
import uuid
import zlib

import lz4.block  # noqa: F401  (makes the driver's lz4 segment codec available)
from cassandra import ConsistencyLevel as CL
from cassandra import cqltypes, murmur3, segment
from cassandra import connection as driver_connection
from cassandra.auth import PlainTextAuthenticator
from cassandra.protocol import (
    _UNSET_VALUE,
    AuthResponseMessage,
    BatchMessage,
    ExecuteMessage,
    OptionsMessage,
    PrepareMessage,
    ProtocolHandler,
    QueryMessage,
    RegisterMessage,
    StartupMessage,
    write_byte,
    write_consistency_level,
    write_inet,
    write_int,
    write_long,
    write_longstring,
    write_short,
    write_string,
    write_stringlist,
    write_stringmap,
    write_value,
)
from cassandra.query import BatchType

OUT = []


def emit_bytes(name, data, comment=None):
    if comment:
        OUT.append("/* %s */" % comment)
    body = ", ".join("0x%02x" % b for b in data) if data else "0x00"
    # wrap at ~16 bytes per line
    items = body.split(", ")
    lines = [", ".join(items[i:i + 16]) for i in range(0, len(items), 16)]
    OUT.append("GOLDEN_UNUSED static const uint8_t %s[] = {\n  %s};" % (name, ",\n  ".join(lines)))
    OUT.append("#define %s_LEN ((size_t)%d)" % (name, len(data)))


def c_string(data):
    return '"' + "".join("\\x%02x" % b for b in data) + '"'


def frame(msg, version, stream=0, compressor=None):
    return ProtocolHandler.encode_message(msg, stream, version, compressor, False)


def body_of(f):
    return f[9:]


# ------------------------------------------------------------------ murmur3, routing keys
def gen_murmur3():
    rnd = random.Random(20240501)
    keys = [b"", b"test", b"\x00\x00\x00\x01", b"\xff" * 3, b"hello world", bytes(range(16)), bytes(range(17)),
            bytes(range(0x80, 0x80 + 31))]
    for n in list(range(0, 48)) + [63, 64, 65, 100, 127, 128, 255, 1000]:
        keys.append(bytes(rnd.getrandbits(8) for _ in range(n)))
    OUT.append("typedef struct golden_token { const char *key; size_t len; int64_t token; } golden_token;")
    OUT.append("GOLDEN_UNUSED static const golden_token GOLDEN_MURMUR3[] = {")
    for k in keys:
        OUT.append("  {%s, %d, INT64_C(%d)}," % (c_string(k), len(k), murmur3.murmur3(k)))
    OUT.append("};")
    # Composite partition key (bigint channel, int bucket): the driver's routing-key packing.
    parts = [cqltypes.LongType.serialize(1234567890123, 4), cqltypes.Int32Type.serialize(42, 4)]
    packed = b"".join(struct_pack_part(p) for p in parts)
    emit_bytes("GOLDEN_ROUTING_KEY_COMPOSITE", packed, "routing key of (bigint 1234567890123, int 42)")
    OUT.append("#define GOLDEN_ROUTING_KEY_COMPOSITE_TOKEN INT64_C(%d)" % murmur3.murmur3(packed))


def struct_pack_part(p):
    # cassandra.query.Statement._key_parts_packed, used by the driver for token routing
    from cassandra.query import Statement
    return b"".join(Statement._key_parts_packed(None, [p]))


# ------------------------------------------------------------------ CRCs
def gen_crc():
    inputs = [b"123456789", b"", b"\x00", b"\xfa\x2d\x55\xca", bytes(range(256))]
    OUT.append("typedef struct golden_crc { const char *data; size_t len; uint32_t crc24, crc32; } golden_crc;")
    OUT.append("GOLDEN_UNUSED static const golden_crc GOLDEN_CRC[] = {")
    for d in inputs:
        c24 = segment.compute_crc24(int.from_bytes(d, "little"), len(d))
        c32 = segment.compute_crc32(d, segment.CRC32_INITIAL) & 0xFFFFFFFF
        OUT.append("  {%s, %d, 0x%06xu, 0x%08xu}," % (c_string(d), len(d), c24, c32))
    OUT.append("};")


# ------------------------------------------------------------------ values
UUID1 = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")  # version 1
UUID4 = uuid.UUID("f47ac10b-58cc-4372-a567-0e02b2c3d479")


def gen_values():
    v = 4
    vals = [
        ("INT_0", cqltypes.Int32Type.serialize(0, v)),
        ("INT_NEG1", cqltypes.Int32Type.serialize(-1, v)),
        ("INT_MAX", cqltypes.Int32Type.serialize(2**31 - 1, v)),
        ("INT_MIN", cqltypes.Int32Type.serialize(-2**31, v)),
        ("BIGINT_MIN", cqltypes.LongType.serialize(-2**63, v)),
        ("BIGINT_1234567890123", cqltypes.LongType.serialize(1234567890123, v)),
        ("COUNTER_7", cqltypes.CounterColumnType.serialize(7, v)),
        ("BOOL_TRUE", cqltypes.BooleanType.serialize(True, v)),
        ("BOOL_FALSE", cqltypes.BooleanType.serialize(False, v)),
        ("TEXT_UTF8", cqltypes.UTF8Type.serialize("h\u00e9llo \u4e16\u754c", v)),
        ("TEXT_EMPTY", cqltypes.UTF8Type.serialize("", v)),
        ("ASCII", cqltypes.AsciiType.serialize("ascii", v)),
        ("TIMESTAMP_MS", cqltypes.DateType.serialize(1700000000123, v)),
        ("UUID", cqltypes.UUIDType.serialize(UUID4, v)),
        ("TIMEUUID", cqltypes.TimeUUIDType.serialize(UUID1, v)),
        ("BLOB", cqltypes.BytesType.serialize(b"\x00\x01\xfe\xff", v)),
    ]
    for name, data in vals:
        emit_bytes("GOLDEN_VAL_" + name, data)
    for name, val in (("NULL", None), ("UNSET", _UNSET_VALUE), ("INT_42", cqltypes.Int32Type.serialize(42, v))):
        b = io.BytesIO()
        write_value(b, val)
        emit_bytes("GOLDEN_VALUE_" + name, b.getvalue(), "[value] " + name)
    # Timeuuid time of UUID1 (RFC 4122 example), in ms since the epoch.
    OUT.append("#define GOLDEN_TIMEUUID_UNIX_MS INT64_C(%d)" % ((UUID1.time - 0x01B21DD213814000) // 10000))


# ------------------------------------------------------------------ requests
QID = bytes.fromhex("0123456789abcdeffedcba9876543210")
RMID = bytes.fromhex("aabbccdd")


def gen_requests():
    emit_bytes("GOLDEN_STARTUP_V4", frame(StartupMessage("3.0.0", {}), 4, 1), "STARTUP {CQL_VERSION: 3.0.0}, stream 1")
    emit_bytes("GOLDEN_STARTUP_LZ4_V4", frame(StartupMessage("3.0.0", {"COMPRESSION": "lz4"}), 4, 2),
               "STARTUP {COMPRESSION: lz4, CQL_VERSION: 3.0.0}, stream 2")
    emit_bytes("GOLDEN_OPTIONS_V4", frame(OptionsMessage(), 4, 0))
    emit_bytes("GOLDEN_OPTIONS_V5", frame(OptionsMessage(), 5, 32767), "OPTIONS v5, stream 32767")
    token = PlainTextAuthenticator("cassandra", "s3cret").initial_response()
    emit_bytes("GOLDEN_AUTH_RESPONSE_V4", frame(AuthResponseMessage(token), 4, 3), "SASL PLAIN cassandra/s3cret")
    emit_bytes("GOLDEN_REGISTER_V4",
               frame(RegisterMessage(["TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE"]), 4, 4))

    q = QueryMessage("SELECT release_version FROM system.local WHERE key='local'", CL.ONE)
    emit_bytes("GOLDEN_QUERY_SIMPLE_V4", frame(q, 4, 5))
    q = QueryMessage("SELECT x FROM t", CL.ONE)
    q.tracing = True
    emit_bytes("GOLDEN_QUERY_TRACING_V4", frame(q, 4, 6), "QUERY with the tracing flag")

    q = QueryMessage("INSERT INTO ks.t (a, b, c, d) VALUES (?, ?, ?, ?) IF NOT EXISTS", CL.LOCAL_QUORUM,
                     serial_consistency_level=CL.LOCAL_SERIAL, fetch_size=5000, paging_state=b"\x01\x02\x03",
                     timestamp=1700000000000000)
    q.query_params = [cqltypes.Int32Type.serialize(42, 4), cqltypes.UTF8Type.serialize("hi", 4), None, _UNSET_VALUE]
    emit_bytes("GOLDEN_QUERY_ALL_V4", frame(q, 4, 7),
               "QUERY LOCAL_QUORUM values(42,'hi',NULL,unset) page 5000 paging_state 010203 LOCAL_SERIAL ts")
    q = QueryMessage("SELECT a FROM t WHERE k = ?", CL.QUORUM, fetch_size=100, keyspace="ks")
    q.query_params = [cqltypes.LongType.serialize(-5, 5)]
    emit_bytes("GOLDEN_QUERY_KEYSPACE_V5", frame(q, 5, 8), "QUERY v5 with keyspace flag")

    emit_bytes("GOLDEN_PREPARE_V4", frame(PrepareMessage("SELECT a, b FROM ks.t WHERE k = ?"), 4, 9))
    emit_bytes("GOLDEN_PREPARE_V5", frame(PrepareMessage("SELECT a FROM t WHERE k = ?"), 5, 10))
    emit_bytes("GOLDEN_PREPARE_KS_V5", frame(PrepareMessage("SELECT a FROM t WHERE k = ?", keyspace="ks"), 5, 11))

    params = [cqltypes.LongType.serialize(1234567890123, 4), cqltypes.DateType.serialize(1700000000123, 4),
              cqltypes.UUIDType.serialize(UUID4, 4), cqltypes.TimeUUIDType.serialize(UUID1, 4),
              cqltypes.BooleanType.serialize(True, 4), cqltypes.BytesType.serialize(b"\xde\xad", 4)]
    # The driver never sends the skip_metadata flag (0x02); the C test checks that bit on its own.
    e = ExecuteMessage(QID, params, CL.QUORUM, fetch_size=100, timestamp=1700000000000001)
    emit_bytes("GOLDEN_EXECUTE_V4", frame(e, 4, 12),
               "EXECUTE QUORUM (bigint, timestamp, uuid, timeuuid, true, blob) page 100 ts")
    e = ExecuteMessage(QID, [cqltypes.Int32Type.serialize(1, 5)], CL.LOCAL_ONE, result_metadata_id=RMID)
    emit_bytes("GOLDEN_EXECUTE_V5", frame(e, 5, 13), "EXECUTE v5 with result_metadata_id")

    b = BatchMessage(BatchType.LOGGED,
                     [(False, "INSERT INTO ks.t (a, b) VALUES (?, ?)",
                       [cqltypes.Int32Type.serialize(1, 4), cqltypes.UTF8Type.serialize("x", 4)]),
                      (True, QID, [None, _UNSET_VALUE])],
                     CL.QUORUM, serial_consistency_level=CL.SERIAL, timestamp=1700000000000002)
    emit_bytes("GOLDEN_BATCH_LOGGED_V4", frame(b, 4, 14), "BATCH logged: query + prepared, SERIAL, ts")
    b = BatchMessage(BatchType.UNLOGGED, [(True, QID, [cqltypes.Int32Type.serialize(2, 4)])], CL.ONE)
    emit_bytes("GOLDEN_BATCH_UNLOGGED_V4", frame(b, 4, 15))
    b = BatchMessage(BatchType.COUNTER, [(False, "UPDATE ks.c SET n = n + 1 WHERE k = 1", [])], CL.LOCAL_QUORUM,
                     timestamp=5, keyspace="ks")
    emit_bytes("GOLDEN_BATCH_COUNTER_V5", frame(b, 5, 16), "BATCH counter v5 with timestamp and keyspace")


# ------------------------------------------------------------------ responses
def resp(opcode, version, body, flags=0, stream=0, result_metadata=None):
    """Frame bytes of a response; the driver must decode the body. Returns (bytes, msg)."""
    msg = ProtocolHandler.decode_message(version, {}, stream, flags, opcode, body, None, result_metadata)
    hdr = io.BytesIO()
    ProtocolHandler._write_header(hdr, version | 0x80, flags, stream, opcode, len(body))
    return hdr.getvalue() + body, msg


def b_(fn):
    f = io.BytesIO()
    fn(f)
    return f.getvalue()


def write_type(f, t):
    """t: int id, or (id, params...) for collections/udt/tuple/custom."""
    if isinstance(t, int):
        write_short(f, t)
        return
    tid = t[0]
    write_short(f, tid)
    if tid == 0x0000:
        write_string(f, t[1])
    elif tid in (0x20, 0x22):
        write_type(f, t[1])
    elif tid == 0x21:
        write_type(f, t[1])
        write_type(f, t[2])
    elif tid == 0x30:
        write_string(f, t[1])
        write_string(f, t[2])
        write_short(f, len(t[3]))
        for name, sub in t[3]:
            write_string(f, name)
            write_type(f, sub)
    elif tid == 0x31:
        write_short(f, len(t[1]))
        for sub in t[1]:
            write_type(f, sub)


def gen_responses():
    out, m = resp(0x02, 4, b"", stream=1)
    assert m.name == "READY"
    emit_bytes("GOLDEN_READY_V4", out)

    out, m = resp(0x03, 4, b_(lambda f: write_string(f, "org.apache.cassandra.auth.PasswordAuthenticator")), stream=2)
    assert m.authenticator == "org.apache.cassandra.auth.PasswordAuthenticator"
    emit_bytes("GOLDEN_AUTHENTICATE_V4", out)

    out, m = resp(0x10, 4, b_(lambda f: write_value(f, b"ok")), stream=3)
    assert m.token in ("ok", b"ok")
    emit_bytes("GOLDEN_AUTH_SUCCESS_V4", out, "AUTH_SUCCESS with token 'ok'")

    def supported(f):
        write_short(f, 2)
        write_string(f, "COMPRESSION")
        write_stringlist(f, ["lz4", "snappy"])
        write_string(f, "CQL_VERSION")
        write_stringlist(f, ["3.4.5"])
    out, m = resp(0x06, 4, b_(supported), stream=4)
    assert m.options == {"COMPRESSION": ["lz4", "snappy"]} and m.cql_versions == ["3.4.5"]
    emit_bytes("GOLDEN_SUPPORTED_V4", out)

    # ---- errors
    def err(code, msg, extra=lambda f: None):
        def w(f):
            write_int(f, code)
            write_string(f, msg)
            extra(f)
        return w

    out, m = resp(0x00, 4, b_(err(0x1000, "Cannot achieve consistency level QUORUM", lambda f: (
        write_consistency_level(f, CL.QUORUM), write_int(f, 2), write_int(f, 1)))), stream=5)
    assert m.code == 0x1000 and m.info == {"consistency": CL.QUORUM, "required_replicas": 2, "alive_replicas": 1}
    emit_bytes("GOLDEN_ERROR_UNAVAILABLE_V4", out)

    out, m = resp(0x00, 4, b_(err(0x1100, "Operation timed out", lambda f: (
        write_consistency_level(f, CL.LOCAL_QUORUM), write_int(f, 1), write_int(f, 2),
        write_string(f, "BATCH_LOG")))), stream=6)
    assert m.info["received_responses"] == 1 and m.info["required_responses"] == 2
    emit_bytes("GOLDEN_ERROR_WRITE_TIMEOUT_V4", out)

    out, m = resp(0x00, 4, b_(err(0x1200, "Operation timed out", lambda f: (
        write_consistency_level(f, CL.ONE), write_int(f, 0), write_int(f, 1), write_byte(f, 0)))), stream=7)
    assert m.info["data_retrieved"] is False
    emit_bytes("GOLDEN_ERROR_READ_TIMEOUT_V4", out)

    out, m = resp(0x00, 4, b_(err(0x1300, "Replica(s) failed", lambda f: (
        write_consistency_level(f, CL.ALL), write_int(f, 2), write_int(f, 3), write_int(f, 1),
        write_byte(f, 1)))), stream=8)
    assert m.info["failures"] == 1 and m.info["data_retrieved"] is True
    emit_bytes("GOLDEN_ERROR_READ_FAILURE_V4", out)

    def reasonmap(f):
        write_int(f, 2)
        write_byte(f, 4)
        f.write(bytes([127, 0, 0, 2]))
        write_short(f, 1)
        write_byte(f, 16)
        f.write(bytes(15) + b"\x01")
        write_short(f, 3)
    out, m = resp(0x00, 5, b_(err(0x1500, "Replica(s) failed", lambda f: (
        write_consistency_level(f, CL.QUORUM), write_int(f, 1), write_int(f, 2), reasonmap(f),
        write_string(f, "SIMPLE")))), stream=9)
    assert m.info["failures"] == 2 and m.info["error_code_map"] == {"127.0.0.2": 1, "::1": 3}
    emit_bytes("GOLDEN_ERROR_WRITE_FAILURE_V5", out, "v5 write failure with a reasonmap")

    out, m = resp(0x00, 4, b_(err(0x1400, "failed", lambda f: (
        write_string(f, "ks"), write_string(f, "fn"), write_stringlist(f, ["int", "text"])))), stream=10)
    assert m.info == {"keyspace": "ks", "function": "fn", "arg_types": ["int", "text"]}
    emit_bytes("GOLDEN_ERROR_FUNCTION_FAILURE_V4", out)

    out, m = resp(0x00, 4, b_(err(0x2400, "Cannot add existing table", lambda f: (
        write_string(f, "ks"), write_string(f, "t")))), stream=11)
    assert m.info == {"keyspace": "ks", "table": "t"}
    emit_bytes("GOLDEN_ERROR_ALREADY_EXISTS_V4", out)

    out, m = resp(0x00, 4, b_(err(0x2500, "Prepared query with ID not found", lambda f: (
        write_short(f, len(QID)), f.write(QID)))), stream=12)
    assert m.info == QID
    emit_bytes("GOLDEN_ERROR_UNPREPARED_V4", out)

    out, m = resp(0x00, 4, b_(err(0x000A, "Invalid or unsupported protocol version (5); supported versions are "
                                          "(3/v3, 4/v4, 5/v5-beta)")), stream=0)
    assert m.code == 0x000A
    emit_bytes("GOLDEN_ERROR_PROTOCOL_V4", out)

    # ---- results
    out, m = resp(0x08, 4, b_(lambda f: write_int(f, 1)), stream=13)
    assert m.kind == 1
    emit_bytes("GOLDEN_RESULT_VOID_V4", out)

    out, m = resp(0x08, 4, b_(lambda f: (write_int(f, 3), write_string(f, "messenger"))), stream=14)
    assert m.new_keyspace == "messenger"
    emit_bytes("GOLDEN_RESULT_SET_KEYSPACE_V4", out)

    udt = (0x30, "ks", "addr", [("street", 0x0D), ("zip", 0x09)])
    types = [0x09, 0x0D, (0x20, 0x0D), (0x21, 0x0D, 0x02), (0x22, 0x0C), udt, (0x31, [0x09, 0x0D]),
             (0x00, "org.apache.cassandra.db.marshal.DurationType")]

    def rows(f):
        write_int(f, 2)  # kind Rows
        write_int(f, 0x0001 | 0x0002)  # global spec, has more pages
        write_int(f, 3)
        write_value(f, b"\xca\xfe")  # paging state
        write_string(f, "ks")
        write_string(f, "t")
        for name, t in (("id", 0x09), ("name", 0x0D), ("tags", (0x20, 0x0D))):
            write_string(f, name)
            write_type(f, t)
        write_int(f, 2)
        for cells in ((cqltypes.Int32Type.serialize(1, 4), b"alice", b"\x00\x00\x00\x01\x00\x00\x00\x01x"),
                      (cqltypes.Int32Type.serialize(2, 4), None, b"\x00\x00\x00\x00")):
            for c in cells:
                write_value(f, c)
    out, m = resp(0x08, 4, b_(rows), stream=15)
    assert m.column_names == ["id", "name", "tags"] and m.paging_state == b"\xca\xfe", vars(m)
    assert m.parsed_rows == [(1, "alice", ["x"]), (2, None, [])], m.parsed_rows
    emit_bytes("GOLDEN_RESULT_ROWS_V4", out, "rows: global spec ks.t (id int, name text, tags list<text>), "
               "paging state cafe, 2 rows, one NULL cell")

    def rows_types(f):
        write_int(f, 2)
        write_int(f, 0)  # per-column specs
        write_int(f, len(types))
        for i, t in enumerate(types):
            write_string(f, "ks")
            write_string(f, "t%d" % i)
            write_string(f, "c%d" % i)
            write_type(f, t)
        write_int(f, 0)
    out, m = resp(0x08, 4, b_(rows_types), stream=16)
    assert m.column_names == ["c%d" % i for i in range(len(types))]
    emit_bytes("GOLDEN_RESULT_ROWS_TYPES_V4", out, "rows metadata with every kind of type option, 0 rows")

    def rows_nometa(f):
        write_int(f, 2)
        write_int(f, 0x0004)
        write_int(f, 1)
        write_int(f, 1)
        write_value(f, cqltypes.Int32Type.serialize(7, 4))
    out, m = resp(0x08, 4, b_(rows_nometa), stream=17, result_metadata=[("ks", "t", "c", cqltypes.Int32Type)])
    assert m.parsed_rows == [(7,)], m.parsed_rows
    emit_bytes("GOLDEN_RESULT_ROWS_NO_METADATA_V4", out, "rows with No_metadata: 1 column, 1 row")

    def prepared(version):
        def w(f):
            write_int(f, 4)
            write_short(f, len(QID))
            f.write(QID)
            if version >= 5:
                write_short(f, len(RMID))
                f.write(RMID)
            write_int(f, 0x0001)  # global spec
            write_int(f, 3)
            write_int(f, 2)
            write_short(f, 1)
            write_short(f, 0)
            write_string(f, "ks")
            write_string(f, "messages")
            for name, t in (("bucket", 0x09), ("channel", 0x02), ("body", 0x0D)):
                write_string(f, name)
                write_type(f, t)
            write_int(f, 0x0001)  # result metadata
            write_int(f, 2)
            write_string(f, "ks")
            write_string(f, "messages")
            for name, t in (("id", 0x0F), ("body", 0x0D)):
                write_string(f, name)
                write_type(f, t)
        return w
    out, m = resp(0x08, 4, b_(prepared(4)), stream=18)
    assert m.query_id == QID and m.bind_metadata[0][2] == "bucket" and m.pk_indexes == [1, 0]
    emit_bytes("GOLDEN_RESULT_PREPARED_V4", out, "prepared: 3 bind markers, pk_indexes [1, 0], 2 result columns")
    out, m = resp(0x08, 5, b_(prepared(5)), stream=19)
    assert m.result_metadata_id == RMID
    emit_bytes("GOLDEN_RESULT_PREPARED_V5", out, "prepared v5 with result_metadata_id aabbccdd")

    out, m = resp(0x08, 4, b_(lambda f: (write_int(f, 5), write_string(f, "CREATED"), write_string(f, "TABLE"),
                                         write_string(f, "ks"), write_string(f, "t"))), stream=20)
    assert m.schema_change_event == {"change_type": "CREATED", "target_type": "TABLE", "keyspace": "ks",
                                     "table": "t"}, m.schema_change_event
    emit_bytes("GOLDEN_RESULT_SCHEMA_CHANGE_V4", out)

    # ---- events (stream -1)
    out, m = resp(0x0C, 4, b_(lambda f: (write_string(f, "TOPOLOGY_CHANGE"), write_string(f, "NEW_NODE"),
                                         write_inet(f, ("127.0.0.2", 9042)))), stream=-1)
    assert m.event_type == "TOPOLOGY_CHANGE" and m.event_args["address"] == ("127.0.0.2", 9042)
    emit_bytes("GOLDEN_EVENT_TOPOLOGY_V4", out)
    out, m = resp(0x0C, 4, b_(lambda f: (write_string(f, "STATUS_CHANGE"), write_string(f, "DOWN"),
                                         write_inet(f, ("::1", 9043)))), stream=-1)
    assert m.event_args["change_type"] == "DOWN"
    emit_bytes("GOLDEN_EVENT_STATUS_V6ADDR_V4", out)
    out, m = resp(0x0C, 4, b_(lambda f: (write_string(f, "SCHEMA_CHANGE"), write_string(f, "UPDATED"),
                                         write_string(f, "FUNCTION"), write_string(f, "ks"), write_string(f, "fn"),
                                         write_stringlist(f, ["int"]))), stream=-1)
    assert m.event_args["function"].argument_types == ["int"], m.event_args
    emit_bytes("GOLDEN_EVENT_SCHEMA_FUNCTION_V4", out)

    # ---- prefix: tracing id + warnings + custom payload before a Void result
    def prefixed(f):
        f.write(UUID1.bytes)
        write_stringlist(f, ["Batch too large"])
        write_short(f, 1)
        write_string(f, "k")
        write_value(f, b"v")
        write_int(f, 1)
    out, m = resp(0x08, 4, b_(prefixed), flags=0x02 | 0x08 | 0x04, stream=21)
    assert m.trace_id == UUID1 and m.warnings == ["Batch too large"] and m.custom_payload == {"k": b"v"}
    emit_bytes("GOLDEN_RESULT_PREFIXED_V4", out, "Void result with tracing id, warnings and custom payload")


# ------------------------------------------------------------------ v5 segments
def pattern(n):
    return bytes((i * 31 + 7) & 0xFF for i in range(n))


def gen_segments():
    plain = segment.SegmentCodec()
    lz4c = driver_connection.segment_codec_lz4
    assert lz4c is not None
    opts = frame(OptionsMessage(), 5, 32767)  # = GOLDEN_OPTIONS_V5
    buf = io.BytesIO()
    plain.encode(buf, opts)
    emit_bytes("GOLDEN_SEGMENT_OPTIONS", buf.getvalue(), "uncompressed self-contained segment of OPTIONS v5")

    q = QueryMessage("SELECT " + ", ".join(["column_name"] * 20) + " FROM ks.t", CL.ONE)
    qf = frame(q, 5, 2)
    emit_bytes("GOLDEN_SEGMENT_LZ4_INPUT", qf, "QUERY v5 envelope compressed below")
    buf = io.BytesIO()
    lz4c.encode(buf, qf)
    emit_bytes("GOLDEN_SEGMENT_LZ4", buf.getvalue(), "LZ4 self-contained segment (compressed payload)")

    buf = io.BytesIO()
    lz4c.encode(buf, opts)
    emit_bytes("GOLDEN_SEGMENT_LZ4_STORED", buf.getvalue(), "LZ4 segment stored uncompressed (too small)")

    for name, codec in (("PLAIN", plain), ("LZ4", lz4c)):
        data = pattern(300000)
        buf = io.BytesIO()
        codec.encode(buf, data)
        out = buf.getvalue()
        OUT.append("/* 300000-byte pattern ((i*31+7)&0xff) split into non-self-contained segments */")
        OUT.append("#define GOLDEN_SEGMENT_SPLIT_%s_LEN ((size_t)%d)" % (name, len(out)))
        OUT.append("#define GOLDEN_SEGMENT_SPLIT_%s_CRC32 0x%08xu" % (name, zlib.crc32(out) & 0xFFFFFFFF))


def main():
    OUT.append("/* Generated by tests/cql/golden/gen_golden.py with python3-cassandra %s and python3-lz4;"
               % __import__("cassandra").__version__)
    OUT.append(" * do not edit. Regenerate: make cql-golden; verify: make cql-golden-check. */")
    OUT.append("/* clang-format off */")
    OUT.append("#ifndef MESSENGER_TESTS_CQL_GOLDEN_H")
    OUT.append("#define MESSENGER_TESTS_CQL_GOLDEN_H")
    OUT.append("#include <stddef.h>")
    OUT.append("#include <stdint.h>")
    OUT.append("#define GOLDEN_UNUSED __attribute__((unused))")
    gen_murmur3()
    gen_crc()
    gen_values()
    gen_requests()
    gen_responses()
    gen_segments()
    OUT.append("#endif")
    sys.stdout.write("\n".join(OUT) + "\n")


if __name__ == "__main__":
    main()
