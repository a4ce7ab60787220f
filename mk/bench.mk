# make bench: throughput and latency of messenger against nginx serving the same bytes
# (bench/run.sh; settings via BENCH_* environment variables, see its header), then the CQL
# client's own overhead against the cqlmock test server (mk/bench-cassandra.mk). Not part of
# make test. Writes build/bench/results.md.
.PHONY: bench
bench: build
	@bash bench/run.sh
	@$(MAKE) --no-print-directory bench-cassandra
	@$(MAKE) --no-print-directory bench-events
