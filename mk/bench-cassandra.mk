# make bench-cassandra: the CQL client's own overhead against the cqlmock test server
# (bench/cql_bench.c; owner: the Cassandra store helper). Release builds (no sanitizers) of
# cqlmock and of the bench; one connection, 1/8/64/256 requests in flight, a prepared SELECT
# of 20 rows and a prepared INSERT. Prints a Markdown table. Not part of `make test`.
#   BENCH_CQL_SECONDS  measuring time per table row (default 3)
#   BENCH_CQL_INFLIGHT in-flight levels (default 1,8,64,256)
BENCH_CQL_SECONDS ?= 3
BENCH_CQL_INFLIGHT ?= 1,8,64,256
BENCH_CQL_BIN := $(BUILD)/release/cql_bench
CQLMOCK_RELEASE_BIN := $(BUILD)/release/cqlmock
CQLMOCK_RELEASE_OBJS := $(patsubst tests/cqlmock/%.c,$(BUILD)/release/cqlmock-obj/%.o,\
  $(sort $(wildcard tests/cqlmock/*.c)))

$(BUILD)/release/cqlmock-obj/%.o: tests/cqlmock/%.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(RELEASE_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@
$(CQLMOCK_RELEASE_BIN): $(CQLMOCK_RELEASE_OBJS) $(BUILD)/release/libmessenger.a
	@echo "  LD      $@"
	@$(CC) $(RELEASE_CFLAGS) $^ $(PKG_LIBS) $(CQLMOCK_LDLIBS) -lm -o $@
$(BUILD)/release/bench-obj/cql_bench.o: bench/cql_bench.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(RELEASE_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@
$(BENCH_CQL_BIN): $(BUILD)/release/bench-obj/cql_bench.o $(BUILD)/release/libmessenger.a
	@echo "  LD      $@"
	@$(CC) $(RELEASE_CFLAGS) $^ $(PKG_LIBS) -lm -o $@
-include $(CQLMOCK_RELEASE_OBJS:.o=.d) $(BUILD)/release/bench-obj/cql_bench.d

.PHONY: bench-cassandra
bench-cassandra: deps
	@$(MAKE) --no-print-directory $(BENCH_CQL_BIN) $(CQLMOCK_RELEASE_BIN)
	@$(BENCH_CQL_BIN) --cqlmock $(CQLMOCK_RELEASE_BIN) --seconds $(BENCH_CQL_SECONDS) \
	  --inflight $(BENCH_CQL_INFLIGHT)
