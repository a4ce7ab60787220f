# make monitoring-check: the monitoring files and a real scrape (part of make test).
#   promtool check rules   monitoring/prometheus/alerts.yml
#   promtool test rules    monitoring/prometheus/alerts.test.yml (each alert fires / stays silent)
#   tests/ops              a real Prometheus scrapes the server every second: healthy target,
#                          rules loaded, rate(messenger_http_requests_total) matches the load
#                          sent; the Grafana dashboard's structure, and every family a panel or
#                          a rule names is exported by the server (about 20 s in all)
.PHONY: monitoring-check
monitoring-check: build-asan
	promtool check rules monitoring/prometheus/alerts.yml
	cd monitoring/prometheus && promtool test rules alerts.test.yml
	cd tests/ops && MESSENGER_BIN=$(abspath $(MESSENGER_ASAN)) timeout 600 /usr/bin/python3 -m pytest -q -p no:cacheprovider .

TEST_TARGETS += monitoring-check
