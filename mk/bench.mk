# make bench: throughput and latency of messenger against nginx serving the same bytes
# (bench/run.sh; settings via BENCH_* environment variables, see its header), then the CQL
# client's own overhead against the cqlmock test server (mk/bench-cassandra.mk), then the read
# path with metrics on vs off (make bench-metrics: bench/metrics_overhead.sh, fails above a 3%
# loss). Not part of make test. Writes build/bench/results.md and build/bench/metrics/results.md.
.PHONY: bench bench-metrics
bench: build
	@bash bench/run.sh
	@$(MAKE) --no-print-directory bench-cassandra
	@$(MAKE) --no-print-directory bench-metrics

METRICS_MICRO := $(BUILD)/release/metrics_micro
$(METRICS_MICRO): bench/metrics_micro.c $(BUILD)/release/libmessenger.a
	@echo "  LD      $@"
	@$(CC) $(RELEASE_CFLAGS) $(PKG_CFLAGS) $< $(BUILD)/release/libmessenger.a $(PKG_LIBS) -lm -o $@

bench-metrics: build
	@$(MAKE) --no-print-directory $(METRICS_MICRO)
	@$(METRICS_MICRO) | tee $(BUILD)/bench/metrics-micro.md
	@bash bench/metrics_overhead.sh
