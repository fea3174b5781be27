# pinger. Every target that can send a packet carries the network guard PINGER_ALLOW; on a production machine
# override it (make run PINGER_ALLOW=) to sweep the real list.
PINGER_ALLOW ?= 127.0.0.0/8,::1/128,198.18.0.0/15,2001:db8::/32
export PINGER_ALLOW

CARGO ?= cargo
# Where cargo builds (CARGO_TARGET_DIR when set): the binary the targets below run is $(BIN).
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
export CARGO_TARGET_DIR := $(TARGET_DIR)
BIN := $(TARGET_DIR)/release/pinger
COUNT ?= 1000
PREFIX ?= /usr/local
ADMINER_PORT ?= 8080

.PHONY: build test bench lint fuzz run rebuild_and_run ping services-up services-down psql redis-cli demo install deb deb-files adminer compose-check

build:
	$(CARGO) build --release

# The test command of the README and of CI (as root: raw sockets, namespaces, private Redis/PostgreSQL).
test:
	$(CARGO) test --release

# Micro-benchmarks, the writer benchmark, the whole-sweep comparison with fping and the bare baseline, and the
# 30-day history (root; the history bench takes about half an hour).
bench:
	$(CARGO) bench --bench core
	$(CARGO) bench --bench sweep
	$(CARGO) bench --bench writer
	$(CARGO) bench --bench history

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

# The fuzz targets (fuzz/README.md), FUZZ_SECONDS each, one after another; the nightly toolchain and cargo-fuzz
# (cargo install cargo-fuzz) are needed. New inputs go to fuzz/corpus/TARGET, the committed seeds are read from
# fuzz/seeds/TARGET, a crash is left in fuzz/artifacts/TARGET and stops the run.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= classify_v4 classify_v6 host_list spool_record

fuzz:
	for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t && \
		$(CARGO) +nightly fuzz run $$t $(CURDIR)/fuzz/corpus/$$t $(CURDIR)/fuzz/seeds/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || exit 1; \
	done

# The original tool's targets: a sweep of COUNT hosts of the list (URL, then cache, then the shipped file) into
# the stores configured in .env; rebuild first; and a quick loopback ping.
run:
	$(BIN) --count $(COUNT)

rebuild_and_run: build run

ping: build
	$(BIN) 127.0.0.0/24

# Redis and PostgreSQL on 127.0.0.1 (Docker Compose when a Docker engine answers, else Debian's packages).
services-up:
	scripts/services.sh up

services-down:
	scripts/services.sh down

# The stores' clients with the settings of .env: make psql ARGS="-c 'SELECT count(*) FROM pinger_data'",
# make redis-cli ARGS='get 127.0.0.1'.
psql:
	@scripts/services.sh psql $(ARGS)

redis-cli:
	@scripts/services.sh redis-cli $(ARGS)

# The README's first command: build, start the stores, sweep 127.0.0.0/16 into them, show where to look.
demo:
	scripts/demo.sh

# The binary with cap_net_raw (no root needed to run it), the shipped list as the last-resort fallback, the systemd
# units (README, "With systemd") and their settings file, kept when it exists.
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/pinger
	setcap cap_net_raw+ep $(DESTDIR)$(PREFIX)/bin/pinger
	install -D -m 0644 hosts $(DESTDIR)/usr/share/pinger/hosts
	for u in pinger.service pinger.timer pinger-daemon.service; do \
		sed 's|/usr/local/bin/pinger|$(PREFIX)/bin/pinger|' dist/systemd/$$u | \
			install -D -m 0644 /dev/stdin $(DESTDIR)/etc/systemd/system/$$u || exit 1; done
	test -e $(DESTDIR)/etc/pinger/pinger.env || install -D -m 0600 dist/pinger.env $(DESTDIR)/etc/pinger/pinger.env
	@systemctl daemon-reload 2>/dev/null || true

# The Debian package (README, "As a Debian package"): target/debian/pinger_VERSION_ARCH.deb. Needs cargo-deb
# (cargo install cargo-deb) and Debian's help2man. deb-files makes what the package takes from the build beside
# the binary of PROFILE (release, or debug for a test build): the man page and the units with the binary at
# /usr/bin; deb-package packs an existing build (DEB_OUT: where the .deb goes).
PROFILE ?= release
DEB_OUT ?= $(TARGET_DIR)/debian
deb: build
	$(MAKE) deb-package

deb-files:
	mkdir -p $(TARGET_DIR)/$(PROFILE)/deb
	scripts/manpage.sh $(TARGET_DIR)/$(PROFILE)/pinger $(TARGET_DIR)/$(PROFILE)/deb/pinger.1.gz
	for u in pinger.service pinger.timer pinger-daemon.service; do \
		sed -e 's|/usr/local/bin/pinger|/usr/bin/pinger|' \
			-e 's|^# Installed by `make install`.*|# Installed by the pinger Debian package (make deb).|' \
			dist/systemd/$$u > $(TARGET_DIR)/$(PROFILE)/deb/$$u || exit 1; done

deb-package: deb-files
	CARGO_TARGET_DIR=$(TARGET_DIR) $(CARGO) deb --no-build --strip --profile $(subst debug,dev,$(PROFILE)) --output $(DEB_OUT)

# Adminer (Debian's package) on 127.0.0.1 only; it prints the address to open, with server, user and database
# filled in.
adminer:
	@command -v php >/dev/null && test -f /usr/share/adminer/adminer.php || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq adminer php-cli php-pgsql)
	ADMINER_PORT=$(ADMINER_PORT) scripts/services.sh adminer

# docker-compose.yml checked without a Docker engine.
compose-check:
	tmp=$$(mktemp -d) && cp docker-compose.yml Dockerfile $$tmp/ && cp .env.example $$tmp/.env && \
		docker-compose -f $$tmp/docker-compose.yml config -q && rm -rf $$tmp && echo "docker-compose.yml: valid"
