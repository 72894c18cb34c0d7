# clsync-go. `make test` installs what the tests need (Debian), then runs
# vet, the race-enabled tests, a short pass of every fuzz target and the
# FreeBSD compile check.
GO        ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
# Tests build Go plugins with the go command: keep it on their PATH too.
export PATH := $(dir $(GO)):$(PATH)
BIN       ?= ./clsync
PREFIX    ?= /usr/local
FUZZTIME  ?= 10s
BENCH     ?= ../shared/bench/run.sh
SEEDS     ?= 1,2,3

.PHONY: all build deps test vet test-go test-sysctl fuzz vet-freebsd bench install clean

all: build

# A fully static cgo binary by default, as runc's release builds are:
# --seccomp-filter needs libseccomp, which Go reaches only through cgo, and a
# static link runs on any Linux without libseccomp or a matching glibc, and
# maps less than dynamic cgo (idle RSS 2.2 MB pure Go, 3.4 MB static cgo,
# 4.1 MB dynamic cgo; at 300k files pure Go peaked at 8.5 MiB, dynamic cgo
# at 11.8). osusergo and netgo keep glibc's NSS, which dlopens, out of it;
# noplugin keeps out Go's plugin loader, which dlopens too.
#   make build CGO_ENABLED=0   pure Go, smallest; --seccomp-filter refused
#   make build STATIC=0        dynamic cgo: the build that -Mplugin needs
CGO_ENABLED ?= 1
STATIC      ?= 1
ifeq ($(CGO_ENABLED)$(STATIC),11)
STATIC_FLAGS := -tags osusergo,netgo,noplugin -ldflags '-linkmode external -extldflags "-static"'
endif
build:
	CGO_ENABLED=$(CGO_ENABLED) $(GO) build -trimpath $(STATIC_FLAGS) -o $(BIN) ./cmd/clsync

deps:
	@sh scripts/deps.sh

test: deps vet vet-freebsd test-go test-sysctl fuzz

vet:
	$(GO) vet ./...

vet-freebsd:
	GOOS=freebsd CGO_ENABLED=0 $(GO) vet ./...

test-go:
	$(GO) test -race -count=1 ./...

# The tests that change machine-wide sysctls (a tiny inotify queue) run
# alone, after all others: elsewhere they skip, so that no other test and no
# other process on the machine starts with their values.
test-sysctl:
	CLSYNC_TEST_SYSCTL=1 $(GO) test -race -count=1 -p 1 -run 'TestOverflow|TestStormConverges' ./watcher

# Every Fuzz* target, FUZZTIME each (go test runs one fuzz target at a time).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$target"; \
	    $(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

# Go benchmarks, then our binary beside clsync and lsyncd on identical trees.
bench: build
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	$(BENCH) random --agent go,clsync,lsyncd --bin go=$(BIN) --seeds $(SEEDS) --ops 5000 --delay 1
	$(BENCH) random --agent go,clsync,lsyncd --bin go=$(BIN) --seeds $(SEEDS) --ops 5000 --delay 0
	$(BENCH) latency --agent go,clsync,lsyncd --bin go=$(BIN)
	$(BENCH) storm --agent go,lsyncd,ref --bin go=$(BIN) --bin ref=$(dir $(BENCH))selftest/rsync-loop-agent.sh --reps 2
	$(BENCH) storm --agent go,clsync,lsyncd --bin go=$(BIN) --max-queued-events 1048576
	$(BENCH) startup --agent go,clsync,lsyncd --bin go=$(BIN)

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/clsync

clean:
	rm -f $(BIN)
