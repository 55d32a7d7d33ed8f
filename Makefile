# tenement: make demo (run the example tenants), make test (the test suite).
# Uses `deno` from PATH when present, else installs deno@$(DENO_VERSION) from npm into .tools/.

DENO_VERSION := 2.9.6
LOCAL_DENO := .tools/node_modules/.bin/deno
DENO := $(or $(shell command -v deno 2>/dev/null),$(LOCAL_DENO))
DEMO_PORT ?= 8080

.PHONY: setup prereqs deps demo test check fmt bench compile release clean

setup: prereqs deps examples/hello-go/hello-go

prereqs:
	@bash scripts/install-prereqs.sh

$(LOCAL_DENO):
	npm install --no-save --no-audit --no-fund --prefix .tools deno@$(DENO_VERSION)

deps: $(if $(shell command -v deno 2>/dev/null),,$(LOCAL_DENO))
	$(DENO) install --quiet --frozen --entrypoint main.ts

examples/hello-go/hello-go: examples/hello-go/main.go
	bash examples/hello-go/build.sh

# Serves examples/tenement.toml on :$(DEMO_PORT); try the commands it prints.
demo: setup
	@bash scripts/demo.sh $(DEMO_PORT)

test: setup
	$(DENO) test -A --doc --frozen

check: deps
	$(DENO) fmt --check
	$(DENO) lint
	$(DENO) check main.ts src/ tests/ bench/ testkit/

fmt: deps
	$(DENO) fmt

bench: setup
	$(DENO) run -A bench/run_all.ts
	$(DENO) run -A bench/proxy_vs_nginx.ts --diagnose --duration 4

# Needs internet: deno compile downloads its runtime base (denort) on first use.
compile: deps
	$(DENO) compile -A --frozen --unstable-kv --unstable-net --unstable-no-legacy-abort --unstable-raw-imports --include src/logs/log_writer_worker.ts -o dist/ten main.ts

# dist/ten-{x86_64,aarch64}-unknown-linux-gnu.tar.gz, dist/SHA256SUMS and dist/install.sh; needs
# internet (deno compile --target downloads each runtime base). REPO=owner/name names the GitHub
# repository the published install.sh downloads from (default: the origin remote).
release: deps
	DENO=$(DENO) bash scripts/release.sh --out dist $(if $(REPO),--repo $(REPO),)

clean:
	rm -rf dist examples/tenement-data examples/hello-go/hello-go
