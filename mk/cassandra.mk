# make test-cassandra: the black-box HTTP suite against a real Cassandra (owner: the Cassandra
# store helper); part of make test. With CASSANDRA_CONTACT_POINTS (and CASSANDRA_USERNAME/PASSWORD,
# CASSANDRA_LOCAL_DC, CASSANDRA_REPLICATION as needed) it uses that cluster; without, it starts one
# local node from CASSANDRA_HOME (default ../shared/cassandra) and stops it afterwards
# (scripts/with-cassandra.sh; SKIP_CASSANDRA=1 skips when neither exists). It migrates a fresh
# keyspace msgtest_<random> (twice: migrate is idempotent), runs tests/http with
# MESSENGER_TEST_STORE=cassandra, and drops the keyspace afterwards (scripts/test-cassandra.sh).
.PHONY: test-cassandra
test-cassandra: build-asan
	@bash scripts/with-cassandra.sh 1 bash scripts/test-cassandra.sh $(abspath $(MESSENGER_ASAN)) $(abspath $(BUILD)/docs)

TEST_TARGETS += test-cassandra
