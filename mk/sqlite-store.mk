# store/sqlite extras (owner: the SQLite store helper).
#
#   make sqlite-store-bench   durable sends/s with 8 submitting threads and reads/s of a
#                             20-message page, straight on the store (no HTTP); not in `make test`.
.PHONY: sqlite-store-bench
SQLITE_STORE_BENCH := $(BUILD)/release/tests/sqlite_store_bench
$(SQLITE_STORE_BENCH): tests/perf/sqlite_store_bench.c $(BUILD)/release/libmessenger.a
	@mkdir -p $(@D)
	$(CC) $(RELEASE_CFLAGS) $(PKG_CFLAGS) $< $(BUILD)/release/libmessenger.a $(PKG_LIBS) -lm -o $@
sqlite-store-bench: $(SQLITE_STORE_BENCH)
	$(SQLITE_STORE_BENCH)
