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
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
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
	shellcheck installer/*.sh tests/*.sh tests/images/*.sh tests/common/*.sh

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

# Prints the first-call benchmark table (see BENCHMARKS.md).
bench: deps build rootfs
	bash tests/bench.sh

# --- Images for linux/amd64 and linux/arm64 ------------------------------
# `make image-test` builds images/Dockerfile.debian and Dockerfile.distroless
# for both architectures from a release directory (each picks its binary by
# TARGETARCH and checks SHA256SUMS), runs the first-call scenarios in the
# amd64 images, runs the arm64 ones under qemu-user (binfmt_misc), and joins
# each pair into one manifest list saved as an OCI archive (tests/images.sh).
#
# IMAGE_DIST is the release directory the images take their binaries from,
# and IMAGE_RELEASE the target that fills it: `make release` narrowed to
# IMAGE_ARCHES. To test a release made elsewhere:
#   make image-test IMAGE_RELEASE= IMAGE_DIST=/path/to/dist
IMAGE_ARCHES := amd64 arm64
IMAGE_DIST ?= $(CURDIR)/dist
IMAGE_RELEASE ?= image-release
# The arm64 root file system the arm64 images start from, made by mmdebstrap
# (its maintainer scripts run under qemu-user) and cached; the directory is
# versioned by the package list. The amd64 ones are $(ROOTFS_CACHE)'s.
IMAGE_ROOTFS_CACHE ?= /var/cache/iptables-wrapper-tests/images-v1
IMAGE_ROOTFS_PACKAGES := iptables
IMAGE_SUITE := $(lastword $(SUITES))
# Registers qemu-user's handlers with binfmt_misc (flags P and F), once per boot.
BINFMT := bash tests/images/binfmt.sh
DEB_PACKAGES += qemu-user-static arch-test jq
export IMAGE_ROOTFS_CACHE

.PHONY: image-release binfmt rootfs-arm64

image-release:
	$(MAKE) release RELEASE_ARCHES="$(IMAGE_ARCHES)"

binfmt: deps
	$(BINFMT) aarch64

rootfs-arm64: deps binfmt
	@r=$(IMAGE_ROOTFS_CACHE)/$(IMAGE_SUITE)-arm64; \
	if [ ! -x $$r/usr/sbin/xtables-nft-multi ]; then \
	  echo "building the $(IMAGE_SUITE) arm64 root file system in $$r (under qemu-user)"; \
	  mkdir -p $(IMAGE_ROOTFS_CACHE) && rm -rf $$r.tmp && \
	  mmdebstrap --quiet --architectures=arm64 --variant=apt --include=$(IMAGE_ROOTFS_PACKAGES) \
	    $(IMAGE_SUITE) $$r.tmp && \
	  mv $$r.tmp $$r; \
	fi

image-test: $(IMAGE_RELEASE) rootfs rootfs-arm64 binfmt
	IPTABLES_WRAPPER_DIST=$(IMAGE_DIST) bash tests/images.sh
