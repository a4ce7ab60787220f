# events layer (issue 10, owner: the event-stream engineer). WebSocket frames come from
# libwslay, which has no pkg-config file in Debian 12 (the handshake's SHA-1 uses libcrypto,
# already in PKGS).
#
#   make events-test   tests/events: two replicas sharing a redis-server that the test starts
#                      on a free loopback port and stops (SQLite replicas always; Cassandra
#                      replicas too when CASSANDRA_CONTACT_POINTS is set, else skipped), and
#                      headless Chromium reading the SSE stream. Part of make test.
#   make bench-events  idle streams per process and delivery latency (bench/events_bench.py);
#                      part of make bench.
PKG_LIBS += -lwslay

.PHONY: events-test
events-test: build-asan
	cd tests/events && MESSENGER_BIN=$(abspath $(MESSENGER_ASAN)) timeout 900 \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider .

TEST_TARGETS += events-test

# BENCH_EVENTS_STREAMS (50000) BENCH_EVENTS_RECEIVERS (10000) BENCH_EVENTS_RATE (5000)
# BENCH_EVENTS_SECONDS (10) BENCH_EVENTS_SENDER_CONNECTIONS (64); release build, own servers and
# redis-server on free loopback ports. Writes build/bench/events.md.
.PHONY: bench-events
bench-events: build
	@mkdir -p $(BUILD)/bench
	/usr/bin/python3 bench/events_bench.py | tee $(BUILD)/bench/events.md
