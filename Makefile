# One Makefile for people and CI: `make run` and `make test` do all their own set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEBIAN_PACKAGES := prometheus prometheus-alertmanager prometheus-blackbox-exporter prometheus-snmp-exporter fping iproute2 nftables procps util-linux snmpd snmp docker-compose chromium poppler-utils curl
CONFIG ?= tps-exporter.yml
LISTEN ?= :9811

.PHONY: run test check lint typecheck unit deps venv example clean bench soak demo latency

run: venv ## Run the exporter on the example inventory (needs ICMP permission, see README)
	$(BIN)/tps-exporter --config.file=$(CONFIG) --web.listen-address=$(LISTEN)

test: deps venv lint typecheck ## Run every test: lint, types, unit and integration
	$(BIN)/pytest

unit: venv ## Run only the tests that need no root and no Debian binary
	$(BIN)/pytest tests/unit

check: venv ## Validate the configuration and inventory
	$(BIN)/tps-exporter check --config.file=$(CONFIG)

lint: venv
	$(BIN)/ruff check exporter tests scripts grafana bench lab
	$(BIN)/ruff format --check exporter tests scripts grafana bench lab

typecheck: venv
	$(BIN)/mypy

venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Debian packages the integration tests use: real Prometheus and promtool, fping, ip, nft.
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:$$missing (run: sudo make deps)"; exit 1; fi; \
	echo "installing:$$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing

example: venv ## Regenerate targets/ from ../shared/data/idn-area
	$(BIN)/python scripts/make_example_inventory.py --areas ../shared/data/idn-area --out targets

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache artifacts

demo: deps venv ## The whole chain with TPS going down and back (faults as root); Ctrl-C stops it
	$(BIN)/python -m lab.demo $(DEMO_ARGS)

soak: deps venv ## 10,000 TPS in the site lab for 20 minutes with faults (SOAK_MINUTES=20)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.run --only soak --soak-minutes $(or $(SOAK_MINUTES),20)

bench: deps venv ## Measure tps-exporter beside fping, blackbox_exporter, snmp_exporter and others
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

latency: deps venv ## Outage -> Telegram message and back, with the shipped alerts/ and deploy/ (root)
	$(BIN)/python -m bench.latency $(LATENCY_ARGS)
