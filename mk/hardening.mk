# Hardening checks beyond the functional suite (issue 5). Scripts use Debian's /usr/bin/python3.
#
#   make durability-smoke   3 SIGKILLs during concurrent sends (ASan build); part of make test
#   make test-durability    DURABILITY_ITERATIONS (20) SIGKILLs, release build
#   make exhaustion-test    disk full (tmpfs, needs root, else skipped), fd limit, memory per
#                           connection; part of make test
#   make soak               capacity, then ~70% of it for SOAK_MINUTES (10): RSS, fds, p99 per minute
#   make test-valgrind      the black-box suite tests/http under valgrind memcheck (about 75 s);
#                           part of make test
# See docs/durability.md and docs/limits.md for what they establish.
DURABILITY_ITERATIONS ?= 20
SOAK_MINUTES ?= 10
HARDENING_PY := /usr/bin/python3

# The idle keep-alive check waits 60 s times the suite's time factor (20 under a wrapper),
# past the server's own 60 s idle limit: it cannot pass under valgrind and checks no memory.
VALGRIND_DESELECT := --deselect test_zz_timeouts.py::test_half_sent_request_closed_after_timeout_idle_keep_alive_kept

# build/valgrind/messenger: no sanitizers (valgrind cannot run ASan binaries), -O1 -g.
$(eval $(call variant,valgrind,$(BASE_CFLAGS) -O1,))

.PHONY: durability-smoke test-durability exhaustion-test test-exhaustion soak test-valgrind

durability-smoke: build-asan
	$(HARDENING_PY) tests/durability/crash_durability.py --bin $(MESSENGER_ASAN) --iterations 3

test-durability: build
	$(HARDENING_PY) tests/durability/crash_durability.py --bin $(MESSENGER) --iterations $(DURABILITY_ITERATIONS)

exhaustion-test: build build-asan
	$(HARDENING_PY) tests/exhaustion/disk_full.py --bin $(MESSENGER_ASAN)
	$(HARDENING_PY) tests/exhaustion/fd_limit.py --bin $(MESSENGER_ASAN)
	$(HARDENING_PY) tests/exhaustion/idle_memory.py --bin $(MESSENGER)
test-exhaustion: exhaustion-test

soak: build
	$(HARDENING_PY) tests/soak/soak.py --bin $(MESSENGER) --minutes $(SOAK_MINUTES)

test-valgrind: deps
	@$(MAKE) --no-print-directory $(BUILD)/valgrind/messenger docs-assets
	cd tests/http && MESSENGER_BIN=$(abspath $(BUILD)/valgrind/messenger) MESSENGER_DOCS_DIR=$(abspath $(BUILD)/docs) \
	  MESSENGER_WRAPPER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-fds=no -q" \
	  $(HARDENING_PY) -m pytest -q -p no:cacheprovider $(VALGRIND_DESELECT) .

TEST_TARGETS += durability-smoke exhaustion-test test-valgrind
