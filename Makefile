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

.PHONY: all build deps test vet cross-freebsd test-go test-metrics test-sysctl fuzz vet-freebsd bench bench-scale man install deb clean

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
#   make build METRICS=1       with --metrics-listen: the Prometheus client
#                              and net/http double the binary and raise
#                              peak RSS 8.6 -> 14.4 MiB at 100k files
CGO_ENABLED ?= 1
STATIC      ?= 1
METRICS     ?= 0
comma       := ,
TAGS        :=
ifeq ($(CGO_ENABLED)$(STATIC),11)
TAGS        := osusergo,netgo,noplugin
STATIC_FLAGS := -ldflags '-linkmode external -extldflags "-static"'
endif
ifeq ($(METRICS),1)
TAGS        := $(if $(TAGS),$(TAGS)$(comma))metrics
endif
build:
	CGO_ENABLED=$(CGO_ENABLED) $(GO) build -trimpath $(if $(TAGS),-tags $(TAGS)) $(STATIC_FLAGS) -o $(BIN) ./cmd/clsync

deps:
	@sh scripts/deps.sh

test: deps vet vet-freebsd cross-freebsd test-go test-metrics test-sysctl fuzz

vet:
	$(GO) vet ./...
	$(GO) vet -tags metrics ./...

vet-freebsd:
	GOOS=freebsd CGO_ENABLED=0 $(GO) vet ./...

# No FreeBSD machine runs here: the binary and every test binary must at
# least build for it (without cgo: no seccomp, which is Linux's).
cross-freebsd:
	@set -e; for arch in amd64 arm64; do \
	  echo "freebsd/$$arch: build and test binaries"; \
	  GOOS=freebsd GOARCH=$$arch CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/clsync; \
	  GOOS=freebsd GOARCH=$$arch CGO_ENABLED=0 $(GO) build ./...; \
	  dir=$$(mktemp -d); GOOS=freebsd GOARCH=$$arch CGO_ENABLED=0 $(GO) test -c -o $$dir/ ./... >/dev/null; rm -rf $$dir; \
	done

# The watcher's own tests run once more on fanotify (the conformance suite
# runs every backend by itself).
test-go:
	$(GO) test -race -count=1 ./...
	$(GO) test -race -count=1 -skip 'Conformance' ./watcher -args -backend=fanotify

# The metrics endpoint is built with its tag only (see build).
test-metrics:
	$(GO) test -race -count=1 -tags metrics -run 'Metrics' ./cmd/clsync ./internal/metrics

# The tests that change machine-wide sysctls (a tiny queue, a low watch limit) run
# alone, after all others: elsewhere they skip, so that no other test and no
# other process on the machine starts with their values.
test-sysctl:
	CLSYNC_TEST_SYSCTL=1 $(GO) test -race -count=1 -p 1 -run 'TestOverflow|TestStormConverges|TestConformanceOverflow|TestFanotifyBeyondWatchLimit' ./watcher
	CLSYNC_TEST_SYSCTL=1 $(GO) test -race -count=1 -p 1 -run 'TestOverflow|TestStormConverges' ./watcher -args -backend=fanotify

# Every Fuzz* target, FUZZTIME each.
fuzz:
	GO=$(GO) sh scripts/fuzz.sh $(FUZZTIME)

# Go benchmarks, then our binary beside clsync and lsyncd on identical trees.
bench: build
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	$(BENCH) random --agent go,clsync,lsyncd --bin go=$(BIN) --seeds $(SEEDS) --ops 5000 --delay 1
	$(BENCH) random --agent go,clsync,lsyncd --bin go=$(BIN) --seeds $(SEEDS) --ops 5000 --delay 0
	$(BENCH) latency --agent go,clsync,lsyncd --bin go=$(BIN)
	$(BENCH) storm --agent go,lsyncd,ref --bin go=$(BIN) --bin ref=$(dir $(BENCH))selftest/rsync-loop-agent.sh --reps 2
	$(BENCH) storm --agent go,clsync,lsyncd --bin go=$(BIN) --max-queued-events 1048576
	$(BENCH) startup --agent go,clsync,lsyncd --bin go=$(BIN)
	$(BENCH) random --agent go --bin go=$(BIN) --custom-args=--monitor=fanotify --seeds $(SEEDS) --delay 1
	$(BENCH) random --agent go --bin go=$(BIN) --custom-args=--monitor=fanotify --seeds $(SEEDS) --delay 0
	sh scripts/monitor-memory.sh $(BIN) 100000

# Issue 12's figures at scale, beside clsync, lsyncd and the naive loop: 1M
# files / 100k dirs startup, the storm on a 1M-file tree, the slides' 4.8M
# objects on inotify and fanotify. As root, on an otherwise idle machine: about
# 3 hours, and ~20 GiB of RAM at peak (the harness's storm holds three 1M-file
# trees and their snapshots). PARTS=startup|storm|huge runs one; sizes from the
# environment (a smoke run, 3 minutes: FILES=10000 DIRS=1000 STORM_BASE=5000
# STORM_DIRS=500 STORM_FILES=5000 HUGE=20000 HUGE_OPS=3000), see the script.
bench-scale: build
	bash scripts/bench-scale.sh --bin $(BIN) --bench $(BENCH) $(or $(PARTS),all)

VERSION  := $(shell sed -n 's/^const version = "\(.*\)"/\1/p' cmd/clsync/main.go)
UNITDIR  ?= /etc/systemd/system
DOCDIR   ?= $(PREFIX)/share/doc/clsync-go
DEBDIR   ?= build

# The manual page, from the option table (so it never disagrees with --help).
man:
	$(GO) run ./scripts/mangen $(VERSION) > clsync.1

# The binary, the manual page, the systemd unit (pointing at the installed
# binary) and the example config (as documentation: /etc is the admin's).
install: build man
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/clsync
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	gzip -9n < clsync.1 > $(DESTDIR)$(PREFIX)/share/man/man1/clsync.1.gz
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/bin/clsync|$(PREFIX)/bin/clsync|' examples/systemd/clsync@.service > $(DESTDIR)$(UNITDIR)/clsync@.service
	install -D -m 0644 examples/config/clsync.conf $(DESTDIR)$(DOCDIR)/examples/clsync.conf
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md

# A Debian package built with Debian's own dpkg-deb. It ships /usr/bin/clsync,
# as Debian's clsync package does: it conflicts with and replaces it.
deb:
	rm -rf $(DEBDIR)/root
	$(MAKE) install DESTDIR=$(DEBDIR)/root PREFIX=/usr UNITDIR=/lib/systemd/system
	install -d $(DEBDIR)/root/DEBIAN
	printf '%s\n' 'Package: clsync-go' 'Version: $(VERSION)' "Architecture: $$(dpkg --print-architecture)" \
	  'Maintainer: clsync-go maintainers <maintainers@users.noreply.r-seed-b54e46e8.example>' \
	  'Depends: rsync' 'Conflicts: clsync' 'Replaces: clsync' 'Provides: clsync' 'Section: admin' 'Priority: optional' \
	  "Installed-Size: $$(du -sk $(DEBDIR)/root | cut -f1)" \
	  'Description: live file-sync agent, command-line compatible with clsync 0.4.5' \
	  ' Watches a directory tree with inotify, batches what changed and hands each' \
	  ' batch to rsync or a handler, so mirrors and backups stay current within' \
	  ' seconds; privilege separation, Landlock and systemd notify built in.' \
	  > $(DEBDIR)/root/DEBIAN/control
	dpkg-deb --root-owner-group --build $(DEBDIR)/root $(DEBDIR)/clsync-go_$(VERSION)_$$(dpkg --print-architecture).deb

clean:
	rm -rf $(BIN) clsync.1 build
