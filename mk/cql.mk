# cql protocol layer: golden byte vectors from an independent encoder (python3-cassandra).
#   make cql-golden        regenerate tests/unit/cql_golden.h
#   make cql-golden-check  regenerate into a temp file and diff (part of make test)
CQL_GOLDEN_GEN := tests/cql/golden/gen_golden.py
CQL_GOLDEN_H := tests/unit/cql_golden.h

.PHONY: cql-golden cql-golden-check
cql-golden: deps
	/usr/bin/python3 $(CQL_GOLDEN_GEN) > $(CQL_GOLDEN_H).tmp && mv $(CQL_GOLDEN_H).tmp $(CQL_GOLDEN_H)

cql-golden-check: deps
	@tmp=$$(mktemp) && trap 'rm -f "$$tmp"' EXIT && \
	  /usr/bin/python3 $(CQL_GOLDEN_GEN) > "$$tmp" && \
	  diff -u $(CQL_GOLDEN_H) "$$tmp" && echo "cql-golden-check: $(CQL_GOLDEN_H) matches the python driver's bytes"

TEST_TARGETS += cql-golden-check
