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

# make test-cassandra-cluster: the 3-node fault scenarios (RF 3, LOCAL_QUORUM) on three local
# nodes from CASSANDRA_HOME, which the tests stop, kill -9, SIGSTOP and restart
# (scripts/test-cassandra-cluster.sh, tests/cassandra/test_cluster.py). Always local nodes
# (CASSANDRA_CONTACT_POINTS is ignored: the faults need processes to signal).
# In make test as test-cassandra-faults (~6 min here; make test stays well within 30 min): run
# when the tests start their own nodes, skipped (and said so) when CASSANDRA_CONTACT_POINTS names
# an external cluster, whose processes cannot be signalled (CI's service container: there the
# scenarios are a job of their own on a runner with cassandra-local).
.PHONY: test-cassandra-cluster
test-cassandra-cluster: build-asan
	@env -u CASSANDRA_CONTACT_POINTS bash scripts/with-cassandra.sh 3 \
	  bash scripts/test-cassandra-cluster.sh $(abspath $(MESSENGER_ASAN)) $(abspath $(BUILD)/docs)

.PHONY: test-cassandra-faults
test-cassandra-faults:
	@if [ -n "$$CASSANDRA_CONTACT_POINTS" ]; then \
	  echo "test-cassandra-faults: SKIPPED: CASSANDRA_CONTACT_POINTS names an external cluster (the fault scenarios need local nodes: make test-cassandra-cluster)"; \
	else $(MAKE) --no-print-directory test-cassandra-cluster; fi

TEST_TARGETS += test-cassandra-faults
