# pinger: build, test, bench, lint. Every target that can send a packet carries the network guard.
export PINGER_ALLOW := 127.0.0.0/8,::1/128,198.18.0.0/15,2001:db8::/32

CARGO ?= cargo

.PHONY: build test bench lint sweep-loopback

build:
	$(CARGO) build --release

# The test command of the README and of CI (root: raw sockets).
test:
	$(CARGO) test --release

# Micro-benchmarks (criterion) and the whole-sweep comparison with fping and the bare baseline (root).
bench:
	$(CARGO) bench --bench core
	$(CARGO) bench --bench sweep

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

# The README's first command: a loopback sweep.
sweep-loopback: build
	./target/release/pinger 127.0.0.0/24
