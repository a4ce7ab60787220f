# make test-cassandra: the black-box HTTP suite against a real Cassandra (owner: the Cassandra
# store helper). Not part of `make test` (CI has no Cassandra). Needs CASSANDRA_CONTACT_POINTS
# (and CASSANDRA_USERNAME/PASSWORD, CASSANDRA_LOCAL_DC, CASSANDRA_REPLICATION as needed):
# migrates a fresh keyspace msgtest_<random> (twice: migrate is idempotent), runs tests/http
# with MESSENGER_TEST_STORE=cassandra, and drops the keyspace afterwards. See
# scripts/test-cassandra.sh.
.PHONY: test-cassandra
test-cassandra: build-asan
	@bash scripts/test-cassandra.sh $(abspath $(MESSENGER_ASAN)) $(abspath $(BUILD)/docs)
