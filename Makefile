# natter - plain Makefile. `make` builds both programs, `make check` runs
# every test, `make run` starts a node with its defaults.
#   V=1                         show commands
#   WERROR=1                    warnings are errors
#   SANITIZE=address,undefined  build and test with sanitizers (in build-san/)
#   PREFIX=/usr/local DESTDIR=  for `make install`

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
VERSION := 0.1.0

ifeq ($(SANITIZE),)
BUILD ?= build
else
BUILD ?= build-san
endif

CC      ?= cc
PKGS    := libmicrohttpd libcurl jansson sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
CURSES_CFLAGS := $(shell pkg-config --cflags ncursesw 2>/dev/null)
CURSES_LIBS   := $(shell pkg-config --libs ncursesw 2>/dev/null)

WARN    := -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -DNATTER_VERSION='"$(VERSION)"' $(WARN) -MMD -MP -I. $(PKG_CFLAGS)
LDLIBS  := $(PKG_LIBS) -lmbedtls -lmbedx509 -lmbedcrypto -lpthread -lm
ifneq ($(WERROR),)
CFLAGS  += -Werror
endif
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

ifeq ($(V),)
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2)
else
Q :=
msg = @true
endif

LIB_SRC    := $(wildcard common/*.c crypto/*.c storage/*.c)
SERVER_DIRS := core channel peer discovery rooms
SERVER_SRC := $(wildcard $(addprefix server/,$(addsuffix /*.c,$(SERVER_DIRS))))
CLIENT_SRC := $(filter-out client/main.c,$(wildcard client/*.c))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
INTEG_SRC  := $(wildcard tests/integration/test_*.c)
HARNESS_SRC := $(wildcard tests/integration/harness*.c)
BENCH_SRC  := $(wildcard bench/*.c)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBNATTER  := $(BUILD)/libnatter.a
LIBSERVER  := $(BUILD)/libnatterd.a
LIBCLIENT  := $(BUILD)/libnatterc.a
NATTERD    := $(BUILD)/natterd
NATTER     := $(BUILD)/natter
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
INTEG_BIN  := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(INTEG_SRC))
BENCH_BIN  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
FUZZ_BIN   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

PROGRAMS := $(if $(wildcard server/main.c),$(NATTERD)) $(if $(wildcard client/main.c),$(NATTER))

.SECONDARY:
.PHONY: all deps run check unit integration spec fuzz fuzz-run bench bench-crypto install uninstall clean structure
all: $(PROGRAMS)

$(BUILD)/obj/%.o: %.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(CURSES_CFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

$(LIBNATTER): $(call obj,$(LIB_SRC))
	$(call msg,AR,$@)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^
$(LIBSERVER): $(call obj,$(SERVER_SRC))
	$(call msg,AR,$@)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^
$(LIBCLIENT): $(call obj,$(CLIENT_SRC))
	$(call msg,AR,$@)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(NATTERD): $(call obj,server/main.c) $(LIBSERVER) $(LIBNATTER)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(NATTER): $(call obj,client/main.c) $(LIBCLIENT) $(LIBNATTER)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CURSES_LIBS) $(LDLIBS)

TEST_LIBS := $(LIBSERVER) $(LIBCLIENT) $(LIBNATTER)
TEST_MAIN := $(call obj,tests/test_main.c)
# The rooms APIs called by path (natterd routes once, in its HTTP layer).
ROOMS_PATHS := $(call obj,tests/rooms_paths.c)
$(BUILD)/tests/unit/%: $(call obj,tests/unit/%.c) $(TEST_MAIN) $(ROOMS_PATHS) $(TEST_LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(CURSES_LIBS) $(LDLIBS)
$(BUILD)/tests/integration/%: $(call obj,tests/integration/%.c) $(TEST_MAIN) $(call obj,$(HARNESS_SRC)) $(TEST_LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(CHECK_LIBS) $(CURSES_LIBS) $(LDLIBS)
# test_hostile_input's runner, corpus and peer batches are its own.
$(BUILD)/tests/integration/test_hostile_input: $(call obj,$(wildcard tests/integration/hostile_*.c))
$(BUILD)/bench/%: $(call obj,bench/%.c) $(ROOMS_PATHS) $(TEST_LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CURSES_LIBS) $(LDLIBS)

# --- dependencies (Debian) -------------------------------------------------
DEB_PKGS := build-essential pkg-config libmicrohttpd-dev libcurl4-openssl-dev libmbedtls-dev \
            libjansson-dev libsqlite3-dev check libncurses-dev clang libclang-rt-14-dev \
            curl iproute2 tmux nodejs npm python3
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || \
	    { [ $$p = nodejs ] && command -v node >/dev/null; } || \
	    { [ $$p = npm ] && command -v npm >/dev/null; } || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    $$sudo apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# `make run` starts a node in the foreground with its embedded defaults.
run: deps
	@$(MAKE) --no-print-directory all
	$(NATTERD) $(ARGS)

# --- tests -------------------------------------------------------------------
check: deps
	@$(MAKE) --no-print-directory structure
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(INTEG_BIN)
	@$(MAKE) --no-print-directory spec
	@$(MAKE) --no-print-directory fuzz-run
	@BUILD=$(BUILD) NATTERD=$(abspath $(NATTERD)) NATTER=$(abspath $(NATTER)) \
	    tests/run.sh $(UNIT_BIN) $(INTEG_BIN)

unit: $(UNIT_BIN)
	@BUILD=$(BUILD) tests/run.sh $(UNIT_BIN)
integration: all $(INTEG_BIN)
	@BUILD=$(BUILD) NATTERD=$(abspath $(NATTERD)) NATTER=$(abspath $(NATTER)) tests/run.sh $(INTEG_BIN)

# OpenAPI lint (Redocly CLI, installed locally) and the live contract test.
spec: all
	@if [ -x tests/contract/run.sh ]; then tests/contract/run.sh $(abspath $(NATTERD)); \
	 else echo "spec: tests/contract/run.sh missing"; exit 1; fi

# Structure: no production .c over 800 lines nor function over 80, and no
# dependency cycle between the files of server/rooms.
structure:
	@tools/sizes.sh server storage client common crypto
	@tools/deps.py server/rooms

# libFuzzer harnesses: clang, ASan+UBSan. Objects are built once with the
# fuzz flags into $(BUILD)/fuzz-obj/ (with .d files); each fuzzer links its
# own object with the shared ones.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -DNATTER_VERSION='"$(VERSION)"' -g -O1 -I. -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS)
FUZZ_LIB_SRC := $(LIB_SRC) $(SERVER_SRC)
fuzz_obj = $(patsubst %.c,$(BUILD)/fuzz-obj/%.o,$(1))
FUZZ_SECONDS ?= 15
fuzz: $(FUZZ_BIN)
$(BUILD)/fuzz-obj/%.o: %.c
	$(call msg,FUZZCC,$<)
	@mkdir -p $(dir $@)
	$(Q)clang $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<
$(BUILD)/fuzz/%: $(call fuzz_obj,tests/fuzz/%.c tests/rooms_paths.c) $(call fuzz_obj,$(FUZZ_LIB_SRC))
	$(call msg,FUZZ,$@)
	@mkdir -p $(dir $@)
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^ $(LDLIBS)
fuzz-run: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
	    name=$$(basename $$f); corpus=tests/fuzz/corpus/$$name; mkdir -p $(BUILD)/fuzz/work-$$name; \
	    echo "  FUZZ   $$name for $(FUZZ_SECONDS) s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
	        $(BUILD)/fuzz/work-$$name $$( [ -d $$corpus ] && echo $$corpus ) \
	        > $(BUILD)/fuzz/$$name.log 2>&1 || { tail -40 $(BUILD)/fuzz/$$name.log; exit 1; }; \
	done

bench: all $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; NATTERD=$(abspath $(NATTERD)) $$b || exit 1; done
# Crypto ceilings alone: `make bench-crypto BENCH_ARGS="--seconds 1"`.
bench-crypto: $(BUILD)/bench/crypto
	$(BUILD)/bench/crypto $(BENCH_ARGS)

# --- install -------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(NATTERD) $(DESTDIR)$(SBINDIR)/natterd
	[ ! -f $(NATTER) ] || install -m 0755 $(NATTER) $(DESTDIR)$(BINDIR)/natter
	[ ! -f docs/natter.1 ] || install -m 0644 docs/natter.1 $(DESTDIR)$(MANDIR)/man1/natter.1
	[ ! -f docs/natterd.8 ] || install -m 0644 docs/natterd.8 $(DESTDIR)$(MANDIR)/man8/natterd.8
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/natterd $(DESTDIR)$(BINDIR)/natter \
	      $(DESTDIR)$(MANDIR)/man1/natter.1 $(DESTDIR)$(MANDIR)/man8/natterd.8

clean:
	rm -rf build build-san

-include $(shell find $(BUILD)/obj $(BUILD)/fuzz-obj -name '*.d' 2>/dev/null)
