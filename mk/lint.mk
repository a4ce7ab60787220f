# make lint: static checks of everything in the tree; make manifest-check: the delivery files
# (k8s/, compose, Dockerfile, workflows) are consistent and hardened; make smoke-test: the
# black-box smoke script that CI (container) and CD (kind) run, here against the local
# binary. All three are part of make test.
#
#   clang-format  --dry-run --Werror on every C file (src, tests, fuzz, bench)
#   clang-tidy    .clang-tidy checks on src/**/*.c with the build's own flags, 2 in parallel
#   cppcheck      warning, performance and portability findings fail (internalAstError, a
#                 cppcheck parser limit on some compound literals, is not a finding)
#   shellcheck    every *.sh and .ci/run
#   yamllint      every YAML file (.yamllint)
.PHONY: lint lint-format lint-tidy lint-cppcheck lint-shell lint-yaml manifest-check smoke-test

LINT_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
LINT_PRUNE := -path ./build -prune -o -path ./.git -prune -o -path '*/node_modules' -prune -o
LINT_C_FILES = $(shell find src tests fuzz bench -name '*.[ch]' 2>/dev/null | sort)
LINT_TIDY_FILES = $(shell find src -name '*.c' | sort)
LINT_SH_FILES = $(shell find . $(LINT_PRUNE) -name '*.sh' -print | sort) .ci/run
LINT_TIDY_FLAGS = $(filter-out -Werror -g,$(BASE_CFLAGS)) $(PKG_CFLAGS)

lint: deps
	@$(MAKE) --no-print-directory -k lint-format lint-tidy lint-cppcheck lint-shell lint-yaml
	@echo "make lint: clang-format, clang-tidy, cppcheck, shellcheck and yamllint passed"

lint-format:
	@echo "clang-format --dry-run --Werror: $(words $(LINT_C_FILES)) files"
	@clang-format --dry-run --Werror $(LINT_C_FILES)

lint-tidy:
	@printf '%s\n' $(LINT_TIDY_FILES) | xargs -P$(LINT_JOBS) -I{} \
	  clang-tidy --quiet {} -- $(LINT_TIDY_FLAGS) 2> >(grep -v -E '^[0-9]+ warnings? generated\.$$' >&2)

lint-cppcheck:
	cppcheck --quiet --std=c11 --enable=warning,performance,portability --error-exitcode=1 \
	  --inline-suppr --suppress=missingIncludeSystem --suppress=internalAstError -D_GNU_SOURCE -Isrc -Itests/unit -j $(LINT_JOBS) \
	  $(wildcard src tests fuzz bench)

lint-shell:
	shellcheck $(LINT_SH_FILES)

lint-yaml:
	yamllint --strict .

manifest-check:
	/usr/bin/python3 scripts/check-manifests.py
	/usr/bin/python3 scripts/check-manifests.py --self-test

smoke-test: build-asan
	@bash scripts/smoke-local.sh $(abspath $(MESSENGER_ASAN)) $(abspath $(BUILD)/docs) $(abspath web/chat)

TEST_TARGETS += lint manifest-check smoke-test
