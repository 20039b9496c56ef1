# vsc — Verifiable Service Coordinator
export GOTOOLCHAIN := local
export GOFLAGS := -buildvcs=false
GO ?= go
PKGS := ./...

.PHONY: run test test-cluster build bench lint enclave clean deps evmcheck wasm

## run: start the devnet (every role in one process) on :8080
run: build
	@scripts/ensure-postgres.sh >/dev/null
	exec ./bin/vscd devnet --data $${VSC_DATA:-.data/devnet} $(ARGS)

## test: the whole suite against real PostgreSQL and embedded NATS JetStream (and the Web UI's browser tests in Debian's chromium)
test: deps
	@scripts/ensure-postgres.sh >/dev/null
	@scripts/ensure-chromium.sh
	$(GO) vet $(PKGS)
	$(GO) build -tags ego,ego_mock_eclient ./tee/... ./cmd/...
	$(GO) test -count=1 -timeout 20m $(PKGS)

## test-cluster: the multi-process fault drill (vscd cluster up, 1,000 submissions, kill -9 of every role in turn)
test-cluster: deps
	@scripts/ensure-postgres.sh >/dev/null
	VSC_TEST_CLUSTER=1 $(GO) test -count=1 -timeout 15m -run TestClusterFaultDrill -v ./cmd/vscd

## evmcheck: the exported Solidity verifier accepts vsc's chunk proofs on go-ethereum's EVM and rejects tampered ones (needs npm for solc-js)
evmcheck:
	@command -v npm >/dev/null || { echo "evmcheck needs Node.js and npm (apt-get install nodejs npm)"; exit 1; }
	cd prover/evmcheck && npm install --no-audit --no-fund --silent && $(GO) run .

## build: bin/vscd and bin/vsc
build: deps
	$(GO) build -o bin/vscd ./cmd/vscd
	$(GO) build -o bin/vsc ./cmd/vsc

## wasm: rebuild the Web UI's WebAssembly (coordinator/ui/static/vsc.wasm.gz) and wasm_exec.js; TestWasmIsFresh fails until this is run after a change
wasm:
	$(GO) generate ./coordinator/ui

deps:
	@command -v $(GO) >/dev/null || { echo "Go 1.26 is required: https://go.dev/dl"; exit 1; }
	@$(GO) mod download

## bench: Go benchmarks and the project's load generators (figures in docs/BENCHMARKS.md)
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/... ./chain/... ./dat/... ./tee/...
	./bin/vscd bench intake --submissions 5000 --clients 32 --json

## lint: gofmt and go vet
lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags ego,ego_mock_eclient ./tee/...

## enclave: build and sign the TEE worker with the ego toolchain (SGX machines only)
enclave:
	@command -v ego-go >/dev/null || { echo "ego is not installed: see https://docs.edgeless.systems/ego (README: Running on SGX hardware)"; exit 1; }
	ego-go build -tags ego -o bin/vscd-enclave ./cmd/vscd
	ego sign tee/enclave.json

clean:
	rm -rf bin .data
