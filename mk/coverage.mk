# make coverage: line and branch coverage of src/ by the unit and black-box suites.
#   build/coverage/          the library, the binary and the unit tests, built with gcov
#                            instrumentation (-O0 --coverage, with ASan+UBSan like the test build)
#   build/coverage/report/   coverage.txt (per module and per file), index.html (per line),
#                            summary.json (gcovr)
# make test runs it (coverage-check) and fails below COVERAGE_MIN_LINES percent of the lines
# of src/ (scripts/coverage-report.py prints the per-module table).
COVERAGE_MIN_LINES ?= 80
COVERAGE_FLAGS := --coverage
COVERAGE_CFLAGS := $(BASE_CFLAGS) -O0 $(ASAN_FLAGS) -DMESSENGER_TEST_BUILD $(COVERAGE_FLAGS)
COVERAGE_DIR := $(BUILD)/coverage
COVERAGE_REPORT := $(COVERAGE_DIR)/report
COVERAGE_UNIT_BINS := $(patsubst tests/unit/%.c,$(COVERAGE_DIR)/tests/%,$(UNIT_SRCS))

$(eval $(call variant,coverage,$(COVERAGE_CFLAGS),$(ASAN_FLAGS) $(COVERAGE_FLAGS)))

# (the test doubles of UNIT_EXTRA_LIBS, added by later fragments, are built first by `coverage`)
$(COVERAGE_DIR)/tests/%: tests/unit/%.c $(COVERAGE_DIR)/libmessenger.a
	@mkdir -p $(@D)
	@echo "  TEST    $@"
	@$(CC) $(COVERAGE_CFLAGS) $(PKG_CFLAGS) -Itests/unit $< $(UNIT_EXTRA_LIBS) $(COVERAGE_DIR)/libmessenger.a \
	  $(ASAN_FLAGS) $(COVERAGE_FLAGS) $(PKG_LIBS) $(CQLMOCK_LDLIBS) -lcmocka -lm -o $@

.PHONY: coverage coverage-check
coverage: deps
	@$(MAKE) --no-print-directory $(UNIT_EXTRA_LIBS) docs-assets
	@$(MAKE) --no-print-directory $(COVERAGE_DIR)/messenger $(COVERAGE_UNIT_BINS)
	@find $(COVERAGE_DIR) -name '*.gcda' -delete
	@bash scripts/run-unit-tests.sh $(COVERAGE_UNIT_BINS)
	cd tests/http && MESSENGER_BIN=$(abspath $(COVERAGE_DIR)/messenger) MESSENGER_DOCS_DIR=$(abspath $(BUILD)/docs) \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider .
	@mkdir -p $(COVERAGE_REPORT)
	gcovr --root . --filter 'src/' --object-directory $(COVERAGE_DIR)/obj --exclude-unreachable-branches \
	  --print-summary --json-summary-pretty --json-summary $(COVERAGE_REPORT)/summary.json \
	  --html-details $(COVERAGE_REPORT)/index.html $(COVERAGE_DIR)/obj
	@/usr/bin/python3 scripts/coverage-report.py $(COVERAGE_REPORT)/summary.json --min-lines 0 \
	  | tee $(COVERAGE_REPORT)/coverage.txt

coverage-check: coverage
	@/usr/bin/python3 scripts/coverage-report.py $(COVERAGE_REPORT)/summary.json --min-lines $(COVERAGE_MIN_LINES) \
	  --quiet

TEST_TARGETS += coverage-check
