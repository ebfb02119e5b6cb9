# Tusk Composer. `make help` lists the targets.
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 20s
BENCHCOUNT ?= 3
STATICCHECK_VERSION ?= v0.8.2

.PHONY: help build test bench bench-gateway bench-grpc bench-registry bench-delivery bench-memory bench-builds bench-instructions bench-cpu bench-scale fuzz lint proto soak

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build every command into ./bin
	$(GO) build -buildvcs=auto -o bin/ ./cmd/...

test: ## run every test with the race detector (what CI runs)
	$(GO) test -race -count=1 $(PKGS)

bench: ## benchmarks, side by side with their peers (figures in docs/benchmarks.md)
	$(GO) test ./tsk -run '^$$' -bench Load -benchmem -count $(BENCHCOUNT) -timeout 30m | $(GO) run ./internal/gendoc/cmd/benchtable
	$(GO) test -run '^$$' -bench 'Decode|Source' -benchmem ./tsk ./parser/format
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./internal/breaker
	$(GO) test -run '^$$' -bench Resilience -benchtime 2000x ./internal/gateway
	$(GO) test -run '^$$' -bench ReloadApplied -benchtime 20x -count $(BENCHCOUNT) ./composer
	$(GO) test -run '^$$' -bench 'Publish|Delivery|Drain' -benchtime 20000x -count $(BENCHCOUNT) ./internal/kafkabus
	$(GO) test -run '^$$' -bench Latency -benchtime 2000x -count $(BENCHCOUNT) ./internal/kafkabus
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./internal/auth ./internal/ratelimit
	$(GO) test -run '^$$' -bench . -benchtime 20x -count $(BENCHCOUNT) ./internal/lsp
	$(GO) test -run '^$$' -bench PingPong -cpu 1 -count $(BENCHCOUNT) ./internal/rawio

bench-gateway: ## the gateway beside bare gin+ReverseProxy, nginx and haproxy under wrk (needs wrk, nginx, haproxy)
	./scripts/bench-gateway.sh

bench-grpc: ## gRPC unary calls through the composer, a bare h2c ReverseProxy and nginx grpc_pass (needs nginx, protobuf-compiler)
	./scripts/bench-grpc.sh

bench-registry: ## 1,000 instances registering and beating each second: time to route, composer CPU per heartbeat
	./scripts/bench-registry.sh

bench-delivery: ## a Kafka route's delivery capacity, BASE's build (default HEAD~1) beside the working tree's, with raw kafka-go and franz-go
	./scripts/bench-delivery.sh

bench-memory: ## resident memory of the composer and nginx, idle and with 1,000 idle kept-alive connections (needs nginx, wrk)
	./scripts/bench-memory.sh

bench-instructions: ## user-space instructions per proxied request, BASE's build (default HEAD~1) beside the working tree's (needs valgrind)
	./scripts/bench-instructions.sh

bench-cpu: ## CPU per proxied request, user and system, of the composer and nginx side by side, on one core and on two, and of the upstream behind each (needs wrk, nginx)
	./scripts/bench-cpu.sh

bench-scale: ## throughput on one core and on two, composer and nginx side by side, cores made fractions of one by a cgroup CPU quota (QUOTA, default 0.35; needs root, wrk, nginx)
	./scripts/bench-scale.sh

bench-builds: ## the gateway of BASE (default HEAD~1) against the working tree's, side by side (needs wrk)
	./scripts/bench-builds.sh

fuzz: ## a short run of every fuzz target (FUZZTIME each)
	@for pkg in $$($(GO) list $(PKGS)); do \
		for target in $$($(GO) test -list 'Fuzz.*' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

SOAK_DURATION ?= 3m
soak: ## long runs that make test leaves out: one gRPC stream through the gateway for SOAK_DURATION
	SOAK_DURATION=$(SOAK_DURATION) $(GO) test -tags soak -race -run Soak -count=1 -timeout 30m -v ./internal/runner

PROTOC_GEN_GO_VERSION ?= v1.36.12
PROTOC_GEN_GO_GRPC_VERSION ?= v1.6.2
proto: ## regenerate proto/'s Go code (needs protoc: apt-get install protobuf-compiler)
	GOBIN=$(CURDIR)/.bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(CURDIR)/.bin $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	PATH=$(CURDIR)/.bin:$$PATH protoc -I proto -I /usr/include --go_out=. --go_opt=module=github.com/tuskcompose/composer \
		--go-grpc_out=. --go-grpc_opt=module=github.com/tuskcompose/composer $$(git ls-files 'proto/*.proto')

lint: ## go vet, staticcheck and gofmt
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
