# Speedboat — plain make (STYLE.md rule 12).
#   make            build build/speedboat and build/speedboat-agent
#   make deps       install what the build and the tests need (Debian packages, npm lock file)
#   make test       deps + build + unit tests + end-to-end tests
#   make test-asan  the same tests under ASan/UBSan (separate build tree)
#   make bench      speed and memory against wrk and h2load on a local nginx (docs/PERFORMANCE.md)
#   make demo       a real load test against a local target (the README's first command)
#   make install    binaries, man pages, examples, systemd unit in PREFIX=/usr/local (DESTDIR=)
#   make uninstall  removes them; make deb: a Debian package in $(BUILD)/ (deploy/README.md)
# V=1 prints full commands; SANITIZE=1 builds with ASan/UBSan.

BUILD ?= build
CC ?= gcc
PKGS := libevent libevent_openssl libevent_pthreads openssl libnghttp2 libprotobuf-c libzstd jansson zlib libbrotlienc libbrotlidec libxml-2.0 libsystemd
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)

OPT ?= -O2
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -g $(OPT) -MMD -MP \
  -I$(BUILD)/duktape -I$(BUILD) -I. -DSB_VERSION='"$(VERSION)"'
ifeq ($(SANITIZE),1)
  CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=address,undefined
endif
# FUZZ=1 (make fuzz, with CC=clang): every object instrumented for libFuzzer, ASan and UBSan.
ifeq ($(FUZZ),1)
  CFLAGS_BASE += -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
    -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=address,undefined
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS += $(CFLAGS_BASE) $(PKG_CFLAGS)
LDLIBS += $(PKG_LIBS) -lhttp_parser -lsnappy -lpthread -lm

ifeq ($(V),1)
  Q :=
  say := @true
else
  Q := @
  say := @printf '  %-6s %s\n'
endif

DUK_SRC := /usr/share/duktape
BABEL_JS := node_modules/babel-standalone/babel.min.js
REGEN_JS := node_modules/regenerator-runtime/runtime.js

COMMON_SRC := $(wildcard common/*.c)
AGENT_SRC := $(filter-out agent/main.c,$(wildcard agent/*.c))
CTL_SRC := $(filter-out controller/main.c,$(wildcard controller/*.c))
UNIT_SRC := $(wildcard test/unit/*_test.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
PROTO_OBJ := $(BUILD)/proto/speedboat.pb-c.o $(BUILD)/proto/prompb.pb-c.o
DUK_OBJ := $(BUILD)/duktape/duktape.o
COMMON_OBJ := $(call obj,$(COMMON_SRC)) $(PROTO_OBJ) $(DUK_OBJ)
AGENT_OBJ := $(call obj,$(AGENT_SRC))
CTL_OBJ := $(call obj,$(CTL_SRC)) $(BUILD)/controller/babel_blob.o $(BUILD)/controller/polyfill_blob.o \
  $(BUILD)/controller/dashboard_blob.o
UNIT_BIN := $(patsubst test/unit/%.c,$(BUILD)/test/%,$(UNIT_SRC))
GEN_HDRS := $(BUILD)/proto/speedboat.pb-c.h $(BUILD)/proto/prompb.pb-c.h $(BUILD)/duktape/duktape.h

.PHONY: all deps test unit e2e test-asan bench demo clean format
all: $(BUILD)/speedboat $(BUILD)/speedboat-agent $(BUILD)/sb-target

deps:
	@scripts/install-deps.sh

$(BUILD)/speedboat: $(BUILD)/controller/main.o $(CTL_OBJ) $(AGENT_OBJ) $(COMMON_OBJ)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/speedboat-agent: $(BUILD)/agent/main.o $(AGENT_OBJ) $(COMMON_OBJ)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The project's own test target server (test/target/).
$(BUILD)/sb-target: $(call obj,$(wildcard test/target/*.c))
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# Babel (npm, pinned by package-lock.json) is embedded into the controller binary.
$(BUILD)/controller/babel_blob.o: controller/babel_blob.S $(BABEL_JS)
	@mkdir -p $(dir $@)
	$(say) AS $<
	$(Q)$(CC) -c -DSB_BABEL_PATH='"$(BABEL_JS)"' -o $@ $<

# The ES5 polyfills (controller/polyfill.h), embedded the same way: ours, then regenerator's
# runtime (npm, for generators and async functions) as one more section.
$(BUILD)/controller/polyfills.js: controller/polyfills.js $(REGEN_JS)
	@mkdir -p $(dir $@)
	$(say) GEN $@
	$(Q){ cat controller/polyfills.js; printf '//@regenerator base\n'; cat $(REGEN_JS); } > $@.tmp && mv $@.tmp $@

# The dashboard and report page (controller/dashboard.h).
$(BUILD)/controller/dashboard_blob.o: controller/dashboard_blob.S controller/dashboard.html
	@mkdir -p $(dir $@)
	$(say) AS $<
	$(Q)$(CC) -c -DSB_DASHBOARD_PATH='"controller/dashboard.html"' -o $@ $<

$(BUILD)/controller/polyfill_blob.o: controller/polyfill_blob.S $(BUILD)/controller/polyfills.js
	@mkdir -p $(dir $@)
	$(say) AS $<
	$(Q)$(CC) -c -DSB_POLYFILLS_PATH='"$(BUILD)/controller/polyfills.js"' -o $@ $<

$(BABEL_JS): package-lock.json
	$(say) NPM babel-standalone
	$(Q)npm ci --ignore-scripts --no-audit --no-fund --silent
	$(Q)touch $@

$(REGEN_JS): $(BABEL_JS)

# protobuf-c code is generated at build time, never committed: our protocol, and Prometheus'
# remote write messages (--out prometheus-rw).
$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)
	$(say) PROTOC $<
	$(Q)protoc-c --c_out=$(BUILD) $<

$(BUILD)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c
	$(say) CC $<
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# Made by the pattern rules above, and kept: make would delete them as intermediate files.
.SECONDARY: $(foreach p,speedboat prompb,$(BUILD)/proto/$(p).pb-c.c $(BUILD)/proto/$(p).pb-c.h)

# Duktape from the amalgamation Debian ships (faster than the shared library), with our config.
$(BUILD)/duktape/duktape.h: $(DUK_SRC)/duktape.h $(DUK_SRC)/duk_config.h scripts/duk-config.sh
	@mkdir -p $(dir $@)
	$(say) GEN duk_config.h
	$(Q)cp $(DUK_SRC)/duktape.h $(BUILD)/duktape/duktape.h
	$(Q)scripts/duk-config.sh $(DUK_SRC)/duk_config.h > $(BUILD)/duktape/duk_config.h

# duktape.c is copied beside our duk_config.h: its #include "duk_config.h" must find ours.
# scripts/duktape-*.patch change Duktape's behaviour where it costs every closure (each says why).
DUK_PATCHES := $(sort $(wildcard scripts/duktape-*.patch))
$(DUK_OBJ): $(DUK_SRC)/duktape.c $(BUILD)/duktape/duktape.h $(DUK_PATCHES) Makefile
	$(say) CC duktape.c
	$(Q)cp $(DUK_SRC)/duktape.c $(BUILD)/duktape/duktape.c
	$(Q)for p in $(DUK_PATCHES); do patch -s -p1 -d $(BUILD)/duktape < $$p || exit 1; done
	$(Q)$(CC) -std=c99 -D_GNU_SOURCE -O2 -g -w $(filter -fsanitize%,$(CFLAGS)) -I$(BUILD)/duktape -c -o $@ $(BUILD)/duktape/duktape.c

# Tests -----------------------------------------------------------------------------------------
# Unit tests link static archives, so each pulls in only the modules it uses.
LIBS_A := $(BUILD)/libsb-ctl.a $(BUILD)/libsb-agent.a $(BUILD)/libsb-common.a
$(BUILD)/libsb-ctl.a: $(CTL_OBJ)
$(BUILD)/libsb-agent.a: $(AGENT_OBJ)
$(BUILD)/libsb-common.a: $(COMMON_OBJ)
$(BUILD)/%.a:
	$(say) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/test/%_test: $(BUILD)/test/unit/%_test.o $(LIBS_A)
	@mkdir -p $(dir $@)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIBS_A) $(LIBS_A) $(LDLIBS) -lcmocka

# Fuzzing (test/fuzz/, docs/SECURITY.md): libFuzzer targets built by clang in build-fuzz, each
# run FUZZ_SECONDS from its seed corpus test/fuzz/corpus/<name>/. Clang: install-deps.sh --fuzz.
FUZZ_SECONDS ?= 30
FUZZ_BIN := $(patsubst test/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard test/fuzz/*_fuzz.c))
.PHONY: fuzz fuzz-build
fuzz:
	@scripts/install-deps.sh --fuzz
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang FUZZ=1 OPT=-O1 fuzz-build
	@test/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

fuzz-build: $(FUZZ_BIN)
.PRECIOUS: $(BUILD)/test/fuzz/%_fuzz.o

$(BUILD)/fuzz/%_fuzz: $(BUILD)/test/fuzz/%_fuzz.o $(LIBS_A)
	@mkdir -p $(dir $@)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(LIBS_A) $(LIBS_A) $(LDLIBS)

# Simulated agents for make bench (test/tools/sim_agent.c); not part of `all`.
$(BUILD)/sb-sim-agent: $(BUILD)/test/tools/sim_agent.o $(LIBS_A)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIBS_A) $(LIBS_A) $(LDLIBS)

# The open-model reference client for make bench's generator overhead (test/tools/ar_ref.c).
$(BUILD)/sb-ar-ref: $(BUILD)/test/tools/ar_ref.o
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $<

unit: $(UNIT_BIN) all
	@test/run-unit.sh $(UNIT_BIN)

e2e: all $(BUILD)/sb-sim-agent
	@test/e2e/run.sh $(BUILD)

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(BUILD)/sb-sim-agent
	@test/run-unit.sh $(UNIT_BIN)
	@test/e2e/run.sh $(BUILD)

# UBSan only prints by default: make any report fail the test that triggered it. t_valgrind runs
# in make test only: valgrind cannot run binaries built with ASan.
test-asan: deps
	@UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 E2E_EXCEPT=t_valgrind \
	  $(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 OPT=-O1 test

bench: deps all $(BUILD)/sb-sim-agent $(BUILD)/sb-ar-ref
	@scripts/bench.sh $(BUILD)

demo: deps all
	@scripts/demo.sh $(BUILD)

# Installing (deploy/install.sh, deploy/deb/build.sh).
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
.PHONY: install uninstall deb
install: $(BUILD)/speedboat $(BUILD)/speedboat-agent
	@deploy/install.sh install "$(BUILD)" "$(DESTDIR)" "$(PREFIX)" "$(SYSCONFDIR)"

uninstall:
	@deploy/install.sh uninstall "$(BUILD)" "$(DESTDIR)" "$(PREFIX)" "$(SYSCONFDIR)"

deb: $(BUILD)/speedboat $(BUILD)/speedboat-agent
	@deploy/deb/build.sh "$(BUILD)" "$(VERSION)"

format:
	clang-format -i $(COMMON_SRC) $(AGENT_SRC) $(CTL_SRC) common/*.h agent/*.h controller/*.h

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
