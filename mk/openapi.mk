# make openapi-check: validates docs/openapi.json, the OpenAPI 3.1 description of API.md
# served at /openapi.json (contract paths, methods and status codes, $refs, examples against
# their schemas; see scripts/check-openapi.py). Part of make test.
.PHONY: openapi-check
openapi-check: deps
	/usr/bin/python3 scripts/check-openapi.py docs/openapi.json
TEST_TARGETS += openapi-check
