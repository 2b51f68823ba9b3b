# Icebox build, test and demo targets. cgo is required (PKCS#11).
SHELL      := /bin/bash
GO         ?= go
FUZZTIME   ?= 10s
APT_PKGS   := softhsm2 opensc zbar-tools qrencode
export CGO_ENABLED := 1

.PHONY: all build test deps demo lint fuzz bench clean

all: build

build:
	$(GO) build -o bin/iceboxd ./cmd/iceboxd
	$(GO) build -o bin/icebox ./cmd/icebox
	$(GO) build -o bin/demofund ./internal/demofund

# deps installs the system packages the tests and the demo need (apt-get,
# as root) or prints the command to run.
deps:
	@missing=""; \
	command -v softhsm2-util >/dev/null || missing="$$missing softhsm2"; \
	command -v pkcs11-tool   >/dev/null || missing="$$missing opensc"; \
	command -v zbarimg       >/dev/null || missing="$$missing zbar-tools"; \
	command -v qrencode      >/dev/null || missing="$$missing qrencode"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else \
			echo "missing packages:$$missing"; \
			echo "run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
		fi; \
	fi
	@softhsm-test/token.sh --module >/dev/null

# test runs everything, including the SoftHSM2 suite, with the race detector.
test: deps
	$(GO) test -race -count=1 ./...

demo: deps build
	@scripts/demo.sh

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@if command -v staticcheck >/dev/null; then staticcheck ./...; fi

# fuzz runs every Fuzz target of every package for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# bench measures Icebox against the raw limit of its HSM in one run (bench/):
# raw C_Sign, the signer pipeline on ETH/BTC batches, one withdrawal against
# its floor, peak RSS at 10,000 transactions, QR decoding against zbarimg.
# It prints the table and the summary line and rewrites docs/benchmarks.md.
# ICEBOX_BENCH_PROFILE=DIR writes a pprof CPU profile per measurement.
bench: deps
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkReport$$' -benchtime 1x -timeout 20m ./bench/

clean:
	rm -rf bin demo

# crashtest SIGKILLs a real iceboxd serve CRASH_KILLS times while it answers
# a stream of batched BTC/ETH requests on a SoftHSM2 token, restarts it and
# checks the audit log, the outbox and the ledger after every restart
# (internal/crashtest). Prints "crashtest: K kills, V violations".
CRASH_KILLS ?= 200
.PHONY: crashtest
crashtest: deps build
	$(GO) build -o bin/crashtest ./internal/crashtest
	bin/crashtest -kills $(CRASH_KILLS) -bin bin

# interop proves against real node software that btcd and geth accept what
# Icebox signs (internal/interop; docs/interop.md). The pinned node binaries
# are built once per machine with go install into INTEROP_CACHE and reused;
# the nodes run on 127.0.0.1 only with throwaway data directories. Prints
# "interop: N passed, M failed". INTEROP_KEEP=1 keeps the working directory.
BTCD_VERSION  := v0.24.2
GETH_VERSION  := v1.17.10
INTEROP_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/icebox-interop
INTEROP_BTCD  := $(INTEROP_CACHE)/btcd-$(BTCD_VERSION)
INTEROP_GETH  := $(INTEROP_CACHE)/geth-$(GETH_VERSION)
INTEROP_KEEP  ?=
.PHONY: interop interop-nodes
interop-nodes:
	@if [ ! -x $(INTEROP_BTCD)/btcd ] || [ ! -x $(INTEROP_BTCD)/btcctl ]; then \
		echo "== go install btcd + btcctl $(BTCD_VERSION) into $(INTEROP_BTCD) (once per machine)"; \
		GOBIN=$(INTEROP_BTCD) $(GO) install github.com/btcsuite/btcd@$(BTCD_VERSION) \
			github.com/btcsuite/btcd/cmd/btcctl@$(BTCD_VERSION) || exit 1; \
	fi
	@if [ ! -x $(INTEROP_GETH)/geth ]; then \
		echo "== go install geth $(GETH_VERSION) into $(INTEROP_GETH) (once per machine, ~5 min on 2 idle cores)"; \
		GOBIN=$(INTEROP_GETH) $(GO) install github.com/ethereum/go-ethereum/cmd/geth@$(GETH_VERSION) || exit 1; \
	fi

interop: deps build interop-nodes
	$(GO) build -o bin/interop ./internal/interop
	bin/interop -bin bin -btcd $(INTEROP_BTCD)/btcd -geth $(INTEROP_GETH)/geth $(if $(INTEROP_KEEP),-keep)

# drill runs the key-ceremony restore drill alone (docs/ceremony.md): backup on
# one SoftHSM2 token, refused restores, restore with M shares on a second one.
.PHONY: drill
drill: deps
	$(GO) test -race -count=1 -run '^TestCLIRestoreDrill$$' -v ./cmd/iceboxd
