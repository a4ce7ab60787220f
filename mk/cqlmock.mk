# cqlmock: the scripted CQL mock cluster for client tests (tests/cqlmock/, see cqlmock.h).
#   build/asan/libcqlmock.a  in-process server; every unit test links it (UNIT_EXTRA_LIBS)
#   build/asan/cqlmock       standalone binary (JSON script / command line, stdin control)
#   make cqlmock-pytest      the DataStax Python driver against the binary (proves the protocol)
CQLMOCK_SRCS := $(filter-out tests/cqlmock/main.c,$(sort $(wildcard tests/cqlmock/*.c)))
CQLMOCK_OBJS := $(patsubst tests/cqlmock/%.c,$(BUILD)/asan/cqlmock-obj/%.o,$(CQLMOCK_SRCS))
CQLMOCK_LIB := $(BUILD)/asan/libcqlmock.a
CQLMOCK_BIN := $(BUILD)/asan/cqlmock
# Prepared ids are MD5 digests (OpenSSL libcrypto).
CQLMOCK_LDLIBS = $(shell pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)

$(BUILD)/asan/cqlmock-obj/%.o: tests/cqlmock/%.c
	@mkdir -p $(@D)
	$(CC) $(ASAN_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@
$(CQLMOCK_LIB): $(CQLMOCK_OBJS)
	@rm -f $@
	ar rcs $@ $^
$(CQLMOCK_BIN): $(BUILD)/asan/cqlmock-obj/main.o $(CQLMOCK_LIB) $(BUILD)/asan/libmessenger.a
	$(CC) $(ASAN_CFLAGS) $^ $(ASAN_FLAGS) $(PKG_LIBS) $(CQLMOCK_LDLIBS) -lm -o $@
-include $(CQLMOCK_OBJS:.o=.d) $(BUILD)/asan/cqlmock-obj/main.d

UNIT_EXTRA_LIBS += $(CQLMOCK_LIB)
$(BUILD)/asan/tests/%: PKG_LIBS += $(CQLMOCK_LDLIBS)

.PHONY: cqlmock cqlmock-pytest
cqlmock: deps
	@$(MAKE) --no-print-directory $(CQLMOCK_BIN)

cqlmock-pytest: cqlmock
	CQLMOCK_BIN=$(abspath $(CQLMOCK_BIN)) timeout 600 /usr/bin/python3 -m pytest -q -p no:cacheprovider \
	  tests/cqlmock/test_python_driver.py

TEST_TARGETS += cqlmock-pytest
