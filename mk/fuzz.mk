# Fuzzing (libFuzzer, clang with ASan+UBSan): one target per parser of untrusted bytes,
# fuzz/fuzz_<target>.c, with seeds in fuzz/corpus/<target>/ and past crashers in
# fuzz/regressions/<target>/ (replayed first on every run). See fuzz/README.md.
#
#   make fuzz          each target for FUZZ_SECONDS (300) seconds
#   make fuzz-smoke    each target for FUZZ_SMOKE_SECONDS (20) seconds; part of make test
#
# The library is built a third time, by clang with -fsanitize=fuzzer-no-link (coverage
# for libFuzzer) into build/fuzz/; any crash, sanitizer report, leak or hang fails the run.
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := $(BASE_CFLAGS) -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(sort $(wildcard fuzz/fuzz_*.c)))
FUZZ_BINS := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))

$(BUILD)/fuzz/%: CC := clang
$(eval $(call variant,fuzz,$(FUZZ_CFLAGS),$(FUZZ_SAN)))

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c $(BUILD)/fuzz/libmessenger.a
	$(CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) $< $(BUILD)/fuzz/libmessenger.a $(PKG_LIBS) -lm -o $@

.PHONY: fuzz fuzz-smoke fuzz-build
fuzz-build: deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

fuzz: fuzz-build
	@bash fuzz/run.sh $(FUZZ_SECONDS) $(BUILD)/fuzz $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@bash fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(BUILD)/fuzz $(FUZZ_TARGETS)

TEST_TARGETS += fuzz-smoke
