# make bench: throughput and latency of messenger against nginx serving the same bytes
# (bench/run.sh; settings via BENCH_* environment variables, see its header). Not part of
# make test. Writes build/bench/results.md.
.PHONY: bench
bench: build
	@bash bench/run.sh
