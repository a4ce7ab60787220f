# messenger: build, run and test.
#
#   make run     install missing packages, build, seed a demo database, serve on :8000
#   make test    everything CI checks
#
# Sources are discovered by folder: every src/<layer>/**/*.c except src/app/main.c goes
# into libmessenger.a; tests/unit/test_*.c each become one cmocka test binary.
# Optional parts (bench, fuzz, lint, delivery checks, cassandra) live in mk/*.mk and add
# themselves to TEST_TARGETS.

.DEFAULT_GOAL := build
SHELL := /bin/bash

ifeq ($(origin CC),default)
CC := gcc
endif
PKGS := libmicrohttpd jansson sqlite3 libuv liblz4 zlib uuid hiredis libcrypto
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
BASE_CFLAGS := -std=c17 -D_GNU_SOURCE -Isrc -pthread $(WARN) -g
RELEASE_CFLAGS := $(BASE_CFLAGS) -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_CFLAGS := $(BASE_CFLAGS) -O1 $(ASAN_FLAGS) -DMESSENGER_TEST_BUILD

BUILD := build
LIB_SRCS := $(filter-out src/app/main.c,$(shell find src -name '*.c' | sort))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))

# $(1) = variant name (release|asan), $(2) = cflags, $(3) = extra ldflags
define variant
$(1)_OBJS := $$(patsubst src/%.c,$(BUILD)/$(1)/obj/%.o,$$(LIB_SRCS))
$(BUILD)/$(1)/obj/%.o: src/%.c
	@mkdir -p $$(@D)
	@echo "  CC      $$@"
	@$$(CC) $(2) $$(PKG_CFLAGS) -MMD -MP -c $$< -o $$@
$(BUILD)/$(1)/libmessenger.a: $$($(1)_OBJS)
	@rm -f $$@
	@ar rcs $$@ $$^
$(BUILD)/$(1)/messenger: $(BUILD)/$(1)/obj/app/main.o $(BUILD)/$(1)/libmessenger.a
	@echo "  LD      $$@"
	@$$(CC) $(2) $$^ $(3) $$(PKG_LIBS) -lm -o $$@
-include $$(patsubst %.o,%.d,$$($(1)_OBJS) $(BUILD)/$(1)/obj/app/main.o)
endef

comma := ,
$(eval $(call variant,release,$(RELEASE_CFLAGS),-Wl$(comma)-z$(comma)relro$(comma)-z$(comma)now))
$(eval $(call variant,asan,$(ASAN_CFLAGS),$(ASAN_FLAGS)))

# mk/*.mk fragments may add test targets, and static libraries (test doubles such as the
# CQL test server) that unit tests link before libmessenger.a.
TEST_TARGETS := unit-test http-test clang-build
UNIT_EXTRA_LIBS :=
-include $(sort $(wildcard mk/*.mk))

UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/asan/tests/%,$(UNIT_SRCS))
$(BUILD)/asan/tests/%: tests/unit/%.c $(UNIT_EXTRA_LIBS) $(BUILD)/asan/libmessenger.a
	@mkdir -p $(@D)
	@echo "  TEST    $@"
	@$(CC) $(ASAN_CFLAGS) $(PKG_CFLAGS) -Itests/unit $< $(UNIT_EXTRA_LIBS) $(BUILD)/asan/libmessenger.a $(ASAN_FLAGS) $(PKG_LIBS) -lcmocka -lm -o $@

MESSENGER := $(BUILD)/release/messenger
MESSENGER_ASAN := $(BUILD)/asan/messenger
export ASAN_OPTIONS ?= abort_on_error=0:detect_leaks=1:halt_on_error=1:exitcode=86
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1:exitcode=86

.PHONY: deps build build-asan run test unit-test http-test clang-build clean docs-assets

deps:
	@bash scripts/install-deps.sh

build: deps
	@$(MAKE) --no-print-directory $(MESSENGER) docs-assets

build-asan: deps
	@$(MAKE) --no-print-directory $(MESSENGER_ASAN) docs-assets

# Swagger UI for /docs, fetched from the npm registry at build time and checked against the
# pinned integrity; the server falls back to a self-contained page when it is absent.
SWAGGER_UI_VERSION := 5.35.0
DOCS_ASSETS := $(BUILD)/docs/swagger-ui-bundle.js
docs-assets: $(DOCS_ASSETS)
$(DOCS_ASSETS):
	@bash scripts/fetch-swagger-ui.sh $(SWAGGER_UI_VERSION) $(BUILD)/docs

DEMO_DB ?= data/messenger.db
PORT ?= 8000
run: build
	@mkdir -p $(dir $(DEMO_DB))
	@[ -f $(DEMO_DB) ] || $(MESSENGER) seed --db $(DEMO_DB)
	exec $(MESSENGER) serve --port $(PORT) --db $(DEMO_DB) --docs-dir $(BUILD)/docs

unit-test: build-asan
	@$(MAKE) --no-print-directory $(UNIT_BINS)
	@bash scripts/run-unit-tests.sh $(UNIT_BINS)

http-test: build-asan
	cd tests/http && MESSENGER_BIN=$(abspath $(MESSENGER_ASAN)) MESSENGER_DOCS_DIR=$(abspath $(BUILD)/docs) \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider .

# The code must also build warning-free with clang (the test build above uses $(CC)).
clang-build: deps
	@$(MAKE) --no-print-directory CC=clang BUILD=$(BUILD)/clang $(BUILD)/clang/release/messenger

test: deps
	@set -e; for t in $(TEST_TARGETS); do echo "=== make $$t"; $(MAKE) --no-print-directory $$t; done
	@echo "make test: all of $(TEST_TARGETS) passed"

clean:
	rm -rf $(BUILD)

# /openapi.json is embedded into the binary (src/api/openapi_blob.c).
$(BUILD)/release/obj/api/openapi_blob.o $(BUILD)/asan/obj/api/openapi_blob.o: docs/openapi.json
