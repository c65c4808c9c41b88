# iptables-wrapper: build, test, demo and benchmark.
# `make test` and `make demo` install the system packages they need.

SHELL := /bin/bash
# cargo on PATH when recent enough, else the build root's (see "Releases").
CARGO := bash tests/release/cargo.sh
CARGO_WHERE := $(shell bash tests/release/cargo.sh --which)
# The build root's cargo needs mmdebstrap on this machine first.
TOOLCHAIN_DEPS := $(if $(filter build-root,$(CARGO_WHERE)),release-deps)
TARGET := $(or $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p'),$(shell uname -m)-unknown-linux-gnu)
# What --version names: the commit (with -dirty for uncommitted changes).
COMMIT := $(shell git rev-parse --short=7 HEAD 2>/dev/null)$(shell git diff --quiet HEAD -- 2>/dev/null || echo -dirty)
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

.PHONY: all build deps rootfs test unit-test integration-test lint image-test demo bench bench-startup clean \
	release-deps release cross-test reproducible-test

all: build

# On x86_64, $(BIN) is the amd64 release binary, built the same way in the
# amd64 build root (musl; tests/release/arches.sh says why), so that the
# tests and the benchmark run what ships. On another machine, its own cargo
# builds a static glibc binary for it.
ifeq ($(shell uname -m),x86_64)
build: release-deps
	RELEASE_ARCHES=amd64 RELEASE_DIST=$(CURDIR)/target/build-dist bash tests/release/build.sh
	mkdir -p bin
	cp target/build-dist/iptables-wrapper-linux-amd64 $(BIN).tmp && mv $(BIN).tmp $(BIN)
	$(check_static_bin)
else
build: $(TOOLCHAIN_DEPS)
	IPTABLES_WRAPPER_COMMIT=$(COMMIT) IPTABLES_WRAPPER_TARGET=$(TARGET) RUSTFLAGS="$(STATIC_FLAGS)" $(CARGO) build --release --locked --target $(TARGET)
	mkdir -p bin
	cp target/$(TARGET)/release/iptables-wrapper $(BIN).tmp && mv $(BIN).tmp $(BIN)
	$(check_static_bin)
endif

define check_static_bin
@ldd $(BIN) 2>&1 | grep -Eq 'statically linked|not a dynamic executable' || { ldd $(BIN); echo "$(BIN) is dynamically linked" >&2; exit 1; }
@echo "built $(BIN): static, $$(stat -c %s $(BIN)) bytes"
endef

# Installs the Debian packages the tests and the demo use, when missing.
deps:
	@$(call apt_install,$(DEB_PACKAGES))

# $(call apt_install,PACKAGES): installs the Debian packages that are missing,
# by name, and says which.
define apt_install
missing=""; for p in $(1); do \
  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
done; \
if [ -n "$$missing" ]; then \
  echo "installing Debian packages:$$missing"; \
  apt-get -o DPkg::Lock::Timeout=900 update -q && \
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $$missing; \
fi
endef

rootfs: deps
	@for s in $(SUITES); do \
	  if [ ! -x $(ROOTFS_CACHE)/$$s/usr/sbin/xtables-nft-multi ] || [ ! -x $(ROOTFS_CACHE)/$$s/usr/sbin/ufw ]; then \
	    echo "building the $$s root file system in $(ROOTFS_CACHE)/$$s"; \
	    mkdir -p $(ROOTFS_CACHE) && rm -rf $(ROOTFS_CACHE)/$$s.tmp && \
	    mmdebstrap --quiet --variant=apt --include=$(ROOTFS_PACKAGES) $$s $(ROOTFS_CACHE)/$$s.tmp && \
	    mv $(ROOTFS_CACHE)/$$s.tmp $(ROOTFS_CACHE)/$$s || exit 1; \
	  fi; \
	done

lint: deps $(TOOLCHAIN_DEPS)
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --locked -- -D warnings
	shellcheck -x installer/*.sh tests/*.sh tests/images/*.sh tests/common/*.sh tests/release/*.sh tests/vm/*.sh

unit-test: $(TOOLCHAIN_DEPS)
	$(CARGO) test --locked --lib --bins

# Without a recent cargo the tests are built in the build root and run here.
CARGO_TEST := $(if $(filter build-root,$(CARGO_WHERE)),bash tests/release/root-tests.sh,$(CARGO) test)

integration-test: build rootfs
	IPTABLES_WRAPPER_BIN=$(CURDIR)/$(BIN) $(CARGO_TEST) --locked --test '*' -- --test-threads=4

test: deps lint unit-test integration-test cross-test image-test vm-test reproducible-test

demo: deps build rootfs
	bash tests/demo.sh

clean:
	rm -rf target bin dist

# Prints the first-call benchmark table (see BENCHMARKS.md).
bench: deps build rootfs
	bash tests/bench.sh

# Prints the C library's start-up cost on this machine (x86_64; BENCHMARKS.md).
bench-startup: deps build
	bash tests/bench-startup.sh

# ---- Releases and other architectures (issue 14; README "Releases") ----
# Static binaries for each architecture, built inside cached Debian build
# roots (tests/release/buildroot.sh, in $(BUILD_ROOT_CACHE)) with trixie's
# rustc 1.85.1, amd64 included. The host only gets Debian packages by name;
# foreign architectures exist only inside the roots.
RELEASE_ARCHES ?= amd64 arm64 arm ppc64le s390x
# What `make test` builds and runs under qemu-user: the architectures this
# machine's archive serves (ppc64le and s390x fail at their roots today).
CROSS_ARCHES ?= amd64 arm64 arm
# The architectures the reproducibility test builds twice: amd64 (musl, its
# standard library built from source) and arm64 (a cross build).
REPRO_ARCHES ?= amd64 arm64
BUILD_ROOT_CACHE ?= /var/cache/iptables-wrapper-build/v3
RELEASE_DEB_PACKAGES := mmdebstrap arch-test qemu-user-static git ca-certificates
export RELEASE_ARCHES CROSS_ARCHES REPRO_ARCHES BUILD_ROOT_CACHE

release-deps:
	@$(call apt_install,$(RELEASE_DEB_PACKAGES))

# dist/iptables-wrapper-linux-<arch> and dist/SHA256SUMS for $(RELEASE_ARCHES).
release: release-deps
	bash tests/release/build.sh

# Unit tests under qemu-user for $(CROSS_ARCHES), held to each target's uapi
# layout, and --version of each release binary (registers binfmt_misc).
cross-test: release-deps
	RELEASE_ARCHES="$(CROSS_ARCHES)" bash tests/release/build.sh
	bash tests/release/cross-test.sh

# Two release builds of $(REPRO_ARCHES) from clones at different paths give
# the same bytes.
reproducible-test: release-deps
	bash tests/release/reproducible.sh

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
BINFMT := bash tests/release/binfmt.sh
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

# --- The arm64 VM tests (tests/vm/) ----------------------------------------
# The arm64 binary's kernel paths (netlink, x_tables getsockopt, the first-call
# switch) on a real arm64 kernel: Debian's arm64 cloud kernel booted in
# qemu-system-aarch64 (TCG, 2 cores, no network device) on an arm64 bookworm
# root, which tests/vm/root.sh builds once with mmdebstrap (qemu-user through
# binfmt_misc, which it registers) and caches in $(VM_CACHE). qemu-user cannot
# test these paths: it refuses NETLINK_NETFILTER and x_tables getsockopt.
# The 32-bit arm binary runs there too, through the kernel's compat syscalls.
VM_BINARY ?= dist/iptables-wrapper-linux-arm64
# The 32-bit arm wrapper, run next to it through the kernel's compat syscalls.
VM_BINARY_ARM ?= dist/iptables-wrapper-linux-arm
VM_CACHE ?= /var/cache/iptables-wrapper-tests/vm-arm64-v1
# The seccomp launcher (no nf_tables), static for arm64, built by the arm64
# build root's cross gcc (the root `make release RELEASE_ARCHES=arm64` makes).
VM_DENY := target/vm/deny-arm64
VM_CC ?= bash tests/release/inroot.sh arm64 aarch64-linux-gnu-gcc
VM_DEB_PACKAGES := qemu-system-arm qemu-user-static arch-test mmdebstrap busybox-static e2fsprogs kmod
export VM_CACHE

.PHONY: vm-deps vm-root vm-binary vm-test

vm-deps:
	@$(call apt_install,$(VM_DEB_PACKAGES))

vm-root: vm-deps
	bash tests/vm/root.sh >/dev/null

# The arm64 and arm wrappers the VM runs: the release builds (write
# $(VM_BINARY) and $(VM_BINARY_ARM)).
vm-binary:
	$(MAKE) release RELEASE_ARCHES="arm64 arm"

$(VM_DENY): tests/seccomp/deny.c | vm-binary
	mkdir -p $(@D)
	$(VM_CC) -O2 -static -Wall -o $@.tmp tests/seccomp/deny.c
	mv $@.tmp $@

vm-test: vm-deps vm-root vm-binary $(VM_DENY)
	VM_BINARY=$(abspath $(VM_BINARY)) VM_BINARY_ARM=$(abspath $(VM_BINARY_ARM)) VM_DENY=$(abspath $(VM_DENY)) bash tests/vm/run.sh

# Captures the arm64 kernel's raw x_tables answers for a small ruleset into
# tests/fixtures/arm64/ (see tests/vm/fixtures.sh); not part of any test run.
VM_XTDUMP := target/vm/xtdump-arm64

$(VM_XTDUMP): tests/vm/xtdump.c | vm-binary
	mkdir -p $(@D)
	$(VM_CC) -O2 -static -Wall -o $@.tmp tests/vm/xtdump.c
	mv $@.tmp $@

.PHONY: vm-fixtures
vm-fixtures: vm-deps vm-root vm-binary $(VM_DENY) $(VM_XTDUMP)
	VM_BINARY=$(abspath $(VM_BINARY)) VM_DENY=$(abspath $(VM_DENY)) VM_XTDUMP=$(abspath $(VM_XTDUMP)) \
	  bash tests/vm/fixtures.sh tests/fixtures/arm64
