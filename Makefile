# Makefile: build, install and test pgtrade.
#
#   make               build the extension and the listener
#   make deps          install the Debian packages pgtrade needs (root)
#   make install       install the extension and the listener (root);
#                      DESTDIR=/tmp/stage installs under /tmp/stage only
#   make sandbox       deps, install, then (re)start the sandbox cluster
#                      with a freshly created pgtrade
#   make check         sandbox, then every test suite; ends with the line
#                      "N passed, N failed"
#   make unit          the C unit tests alone (no database)
#   make fuzz-brief    the gateway-parser fuzz target for about 20 s
#                      (FUZZ_BRIEF_SECONDS), as "make check" runs it
#   make fuzz          the same for FUZZ_SECONDS (default 600), its
#                      corpus kept in results/fuzz/corpus
#   make demo          sandbox, then the demo (DATA=... to choose bars)
#   make bench         indicator, cron, scheduler and listener benchmarks on
#                      the sandbox (bench/run.sh; BENCH=run_due for one)
#   make crash         sandbox, then the listener crash suite: the listener
#                      killed CRASH_KILLS times (default 200)
#   make stop          stop the sandbox and the processes tests started
#   make reference     regenerate doc/reference.md from the sandbox's
#                      catalog and the listener's --describe-config
#   make format-check  report C files clang-format would change
#   make clean         remove build products
#
# PGXS's own "check" target does nothing for an installed extension, so
# "check" here runs the project's suites (tests/run-all.sh) instead.

PG_CONFIG := /usr/lib/postgresql/15/bin/pg_config
export PG_CONFIG

# The listener is built when its directory is present.
LISTENER := $(if $(wildcard listener/Makefile),listener)

FORMAT_FILES = $(sort $(wildcard extension/src/*.[ch] listener/src/*.[ch] \
	bench/*.c \
	tests/unit/*.[ch] tests/fuzz/*.c))

.PHONY: all extension listener deps install sandbox check unit demo stop bench \
	crash format-check format clean fuzz fuzz-brief reference

all: extension $(LISTENER)

extension:
	$(MAKE) -C extension

listener:
	$(MAKE) -C listener

deps:
	scripts/install-deps.sh

# Files of an earlier build are removed first: a stale install script or
# library left in the system directories would hide a missing step.  With
# DESTDIR (a staging tree for a package) only that tree is touched, the
# removal included; PREFIX, BINDIR and the other listener directories
# are described in listener/Makefile.
EXT_SHAREDIR = $(DESTDIR)$(shell $(PG_CONFIG) --sharedir)/extension
EXT_LIBDIR = $(DESTDIR)$(shell $(PG_CONFIG) --pkglibdir)

install: all
	rm -f $(EXT_SHAREDIR)/pgtrade.control $(EXT_SHAREDIR)/pgtrade--*.sql \
		$(EXT_LIBDIR)/pgtrade.so
	rm -rf $(EXT_LIBDIR)/bitcode/pgtrade $(EXT_LIBDIR)/bitcode/pgtrade.index.bc
	$(MAKE) -C extension install
	$(if $(LISTENER),$(MAKE) -C listener install)

# Steps run in order even under "make -j": each is its own recipe line.
sandbox:
	$(MAKE) deps
	$(MAKE) install
	scripts/services.sh stop
	scripts/sandbox.sh start --fresh

check:
	$(MAKE) sandbox
	tests/run-all.sh

unit:
	$(MAKE) -C tests/unit run

fuzz-brief:
	$(MAKE) -s -C tests/fuzz brief

fuzz:
	$(MAKE) -s -C tests/fuzz fuzz

demo:
	@test -z '$(DATA)' -o -r '$(DATA)' || { echo "demo: cannot read DATA file $(DATA)" >&2; exit 1; }
	$(MAKE) sandbox
	@test -x scripts/demo.sh || { echo "scripts/demo.sh is missing" >&2; exit 1; }
	$(if $(DATA),DATA='$(DATA)') scripts/demo.sh

stop:
	scripts/sandbox.sh stop

bench:
	$(MAKE) sandbox
	bench/run.sh $(BENCH)

crash:
	$(MAKE) sandbox
	/usr/bin/python3 tests/crash/crash_suite.py

# Written to a temporary file first: a failed run leaves the old
# reference in place instead of an empty one.
reference: listener
	eval "$$(scripts/sandbox.sh env)" && \
		/usr/bin/python3 scripts/gen-reference.py >doc/reference.md.tmp || \
		{ rm -f doc/reference.md.tmp; exit 1; }
	mv doc/reference.md.tmp doc/reference.md

format-check:
	@if ! command -v clang-format >/dev/null; then \
		echo "clang-format is not installed: format check skipped"; \
	elif [ -n "$(FORMAT_FILES)" ]; then \
		clang-format --dry-run --Werror $(FORMAT_FILES); \
	fi

format:
	clang-format -i $(FORMAT_FILES)

clean:
	$(MAKE) -C extension clean
	$(if $(LISTENER),$(MAKE) -C listener clean)
	$(MAKE) -C tests/unit clean
	$(MAKE) -C bench clean
	rm -rf results
