# make browser-test: the /chat web client (web/chat) in a real browser. Debian's chromium
# (/usr/bin/chromium, scripts/apt-packages.txt) is driven by playwright-core from npm, installed
# with `npm ci` from the committed tests/browser/package-lock.json into tests/browser/node_modules
# (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: never a browser download). One server per test file on a
# free loopback port; screenshots go to build/browser/ (CI uploads them). Part of make test.
.PHONY: browser-deps browser-test
BROWSER_TEST_DIR := tests/browser
BROWSER_TEST_STAMP := $(BROWSER_TEST_DIR)/node_modules/.package-lock.json

$(BROWSER_TEST_STAMP): $(BROWSER_TEST_DIR)/package.json $(BROWSER_TEST_DIR)/package-lock.json
	cd $(BROWSER_TEST_DIR) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

browser-deps: deps
	@$(MAKE) --no-print-directory $(BROWSER_TEST_STAMP)

browser-test: build-asan browser-deps
	@mkdir -p $(BUILD)/browser
	cd $(BROWSER_TEST_DIR) && MESSENGER_BIN=$(abspath $(MESSENGER_ASAN)) \
	  node --test --test-reporter=spec $(notdir $(wildcard $(BROWSER_TEST_DIR)/*.test.js))

TEST_TARGETS += browser-test
