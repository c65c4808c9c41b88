# iptables-wrapper: build, test, demo and benchmark.
# `make test` and `make demo` install the system packages they need.

SHELL := /bin/bash
TARGET := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
STATIC_FLAGS := -C target-feature=+crt-static
BIN := bin/iptables-wrapper
# Debian root file systems for the integration tests, built once by
# mmdebstrap from the machine's apt sources and reused between runs. Besides
# iptables they hold nftables (a native table next to iptables-nft's), ufw
# (a ruleset written by a real client) and strace (the no-process check).
# The directory is versioned by that package list.
ROOTFS_CACHE ?= /var/cache/iptables-wrapper-tests/v2
ROOTFS_PACKAGES := iptables,nftables,ufw,strace
SUITES ?= bookworm trixie
# gcc and libc6-dev build the tests' static helpers (seccomp filter, maxrss).
DEB_PACKAGES := iptables mmdebstrap busybox-static podman runc shellcheck dash gcc libc6-dev strace
export ROOTFS_CACHE SUITES

.PHONY: all build deps rootfs test unit-test integration-test lint image-test demo bench clean

all: build

build:
	RUSTFLAGS="$(STATIC_FLAGS)" cargo build --release --locked --target $(TARGET)
	mkdir -p bin
	cp target/$(TARGET)/release/iptables-wrapper $(BIN).tmp && mv $(BIN).tmp $(BIN)
	@ldd $(BIN) 2>&1 | grep -Eq 'statically linked|not a dynamic executable' || { ldd $(BIN); echo "$(BIN) is dynamically linked" >&2; exit 1; }
	@echo "built $(BIN): static, $$(stat -c %s $(BIN)) bytes"

# Installs the Debian packages the tests and the demo use, when missing.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get -o DPkg::Lock::Timeout=900 update -q && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $$missing; \
	fi

rootfs: deps
	@for s in $(SUITES); do \
	  if [ ! -x $(ROOTFS_CACHE)/$$s/usr/sbin/xtables-nft-multi ] || [ ! -x $(ROOTFS_CACHE)/$$s/usr/sbin/ufw ]; then \
	    echo "building the $$s root file system in $(ROOTFS_CACHE)/$$s"; \
	    mkdir -p $(ROOTFS_CACHE) && rm -rf $(ROOTFS_CACHE)/$$s.tmp && \
	    mmdebstrap --quiet --variant=apt --include=$(ROOTFS_PACKAGES) $$s $(ROOTFS_CACHE)/$$s.tmp && \
	    mv $(ROOTFS_CACHE)/$$s.tmp $(ROOTFS_CACHE)/$$s || exit 1; \
	  fi; \
	done

lint: deps
	cargo fmt --check
	cargo clippy --all-targets --locked -- -D warnings
	shellcheck installer/*.sh tests/*.sh tests/images/*.sh tests/common/*.sh tests/vm/*.sh

unit-test:
	cargo test --locked --lib --bins

integration-test: build rootfs
	IPTABLES_WRAPPER_BIN=$(CURDIR)/$(BIN) cargo test --locked --test '*' -- --test-threads=4

test: deps lint unit-test integration-test image-test

demo: deps build rootfs
	bash tests/demo.sh

clean:
	cargo clean
	rm -rf bin

# Builds the images in images/ with podman from local root file systems and
# runs the first-call scenarios in them.
image-test: build rootfs
	bash tests/images.sh

# Prints the first-call benchmark table (see BENCHMARKS.md).
bench: deps build rootfs
	bash tests/bench.sh

# --- The arm64 VM tests (tests/vm/) ----------------------------------------
# The arm64 binary's kernel paths (netlink, x_tables getsockopt, the first-call
# switch) on a real arm64 kernel: Debian's arm64 cloud kernel booted in
# qemu-system-aarch64 (TCG, 2 cores, no network device) on an arm64 bookworm
# root, which tests/vm/root.sh builds once with mmdebstrap (qemu-user through
# binfmt_misc, which it registers) and caches in $(VM_CACHE). qemu-user cannot
# test these paths: it refuses NETLINK_NETFILTER and x_tables getsockopt.
VM_BINARY ?= dist/iptables-wrapper-linux-arm64
VM_CACHE ?= /var/cache/iptables-wrapper-tests/vm-arm64-v1
# The seccomp launcher (no nf_tables), static for arm64. VM_CC runs the arm64
# cross gcc with the worktree's relative paths; once the release build root
# is merged: VM_CC = bash tests/release/inroot.sh arm64 aarch64-linux-gnu-gcc
VM_DENY := target/vm/deny-arm64
VM_CC ?= bash tests/vm/cross-cc.sh
VM_DEB_PACKAGES := qemu-system-arm qemu-user-static arch-test mmdebstrap busybox-static e2fsprogs kmod
# Registers qemu-aarch64 with binfmt_misc (flag F) for mmdebstrap; the release
# helper's tests/release/binfmt.sh can take its place.
VM_BINFMT ?= bash tests/vm/binfmt.sh
export VM_CACHE VM_BINFMT

.PHONY: vm-deps vm-root vm-binary vm-test

vm-deps:
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(VM_DEB_PACKAGES)"

vm-root: vm-deps
	bash tests/vm/root.sh >/dev/null

# The arm64 wrapper the VM runs. Once `make release` is merged this becomes
# `$(MAKE) release RELEASE_ARCHES=arm64` (which writes $(VM_BINARY)).
vm-binary:
	@test -x $(VM_BINARY) || { echo "no arm64 wrapper at $(VM_BINARY): build it, or set VM_BINARY" >&2; exit 1; }

$(VM_DENY): tests/seccomp/deny.c
	mkdir -p $(@D)
	$(VM_CC) -O2 -static -Wall -o $@.tmp tests/seccomp/deny.c
	mv $@.tmp $@

vm-test: vm-deps vm-root vm-binary $(VM_DENY)
	VM_BINARY=$(abspath $(VM_BINARY)) VM_DENY=$(abspath $(VM_DENY)) bash tests/vm/run.sh

# Captures the arm64 kernel's raw x_tables answers for a small ruleset into
# tests/fixtures/arm64/ (see tests/vm/fixtures.sh); not part of any test run.
VM_XTDUMP := target/vm/xtdump-arm64

$(VM_XTDUMP): tests/vm/xtdump.c
	mkdir -p $(@D)
	$(VM_CC) -O2 -static -Wall -o $@.tmp tests/vm/xtdump.c
	mv $@.tmp $@

.PHONY: vm-fixtures
vm-fixtures: vm-deps vm-root vm-binary $(VM_DENY) $(VM_XTDUMP)
	VM_BINARY=$(abspath $(VM_BINARY)) VM_DENY=$(abspath $(VM_DENY)) VM_XTDUMP=$(abspath $(VM_XTDUMP)) \
	  bash tests/vm/fixtures.sh tests/fixtures/arm64
