#!/bin/bash
# Builds, once, the arm64 Debian root that the VM tests boot, and caches it.
#
#   tests/vm/root.sh     prints the cache directory on stdout
#
# The cache ($VM_CACHE, default /var/cache/iptables-wrapper-tests/vm-arm64-v1;
# the version changes with what goes in) holds:
#   root/        bookworm arm64 (mmdebstrap): iptables 1.8.9 (both back ends),
#                nftables, mount (not essential in bookworm), jq (to read
#                detect --json: python3-minimal has no json module), kmod
#                (the kernel loads nf_tables, x_tables and overlay through
#                modprobe), busybox-static (for initrd.img), and the modules
#                of Debian's linux-image-cloud-arm64 kernel
#   vmlinuz      that kernel
#   initrd.img   a small initramfs made here, see below
#
# Why it is fast: a plain mmdebstrap with the kernel package took 10 min 23 s,
# almost all of it initramfs-tools' mkinitramfs running under qemu-user, and
# unpacking the kernel's modules under emulated dpkg is slow too. Here the
# kernel package is not installed: this machine's apt downloads it with the
# root's apt configuration, dpkg-deb unpacks it and depmod indexes its modules,
# all native. The cloud kernel has ext4 and the PL011 serial console built in,
# but virtio (ring, pci, blk) as modules, so it needs an initramfs to find its
# disk: made here too, without emulation, from the root's static busybox and
# those modules; its /init loads them, mounts /dev/vda and switch_roots to the
# init= program.
#
# mmdebstrap runs the root's maintainer scripts through qemu-user, which needs
# binfmt_misc: $VM_BINFMT (default tests/release/binfmt.sh) registers it.
#
#   tests/vm/root.sh --kernel ROOTDIR OUTDIR   (mmdebstrap's customize hook)
#       puts the kernel's modules into ROOTDIR, and its vmlinuz and config into
#       OUTDIR (as vmlinuz-VERSION, config-VERSION)
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
cache=${VM_CACHE:-/var/cache/iptables-wrapper-tests/vm-arm64-v1}
suite=bookworm
packages=iptables,nftables,jq,kmod,mount,busybox-static
kernel_package=linux-image-cloud-arm64
# The modules /init loads, in dependency order (modules.dep of 6.1).
initrd_modules="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk"

if [ "${1:-}" = --kernel ]; then
    root=$2 out=$3
    export APT_CONFIG=$MMDEBSTRAP_APT_CONFIG
    # The metapackage names the versioned kernel package.
    pkg=$(apt-cache depends --important "$kernel_package" | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n 1)
    if [ -z "$pkg" ]; then
        echo "iptables-wrapper: $kernel_package names no kernel package in the VM root's apt" >&2
        exit 1
    fi
    # Into the root's /tmp, which apt's unprivileged downloader may write.
    (cd "$root/tmp" && apt-get download -q "$pkg" >&2 && mv "$pkg"_*.deb "$out/kernel.deb")
    mkdir "$out/kernel"
    dpkg-deb -x "$out/kernel.deb" "$out/kernel"
    version=${pkg#linux-image-}
    mkdir -p "$root/usr/lib/modules"
    mv "$out/kernel/lib/modules/$version" "$root/usr/lib/modules/"
    depmod -b "$root" "$version"
    mv "$out/kernel/boot/vmlinuz-$version" "$out/kernel/boot/config-$version" "$out/"
    rm -rf "$out/kernel" "$out/kernel.deb"
    exit 0
fi

complete() { [ -e "$cache/.complete" ]; }
if complete; then
    echo "$cache"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "iptables-wrapper: building the VM root needs root (mmdebstrap, chroot)" >&2
    exit 1
fi
mkdir -p "$(dirname "$cache")"
exec 8>"$cache.lock"
flock 8
if complete; then # another build finished while this one waited
    echo "$cache"
    exit 0
fi
${VM_BINFMT:-bash "$here/tests/release/binfmt.sh"} aarch64

start=$SECONDS
tmp=$cache.tmp
rm -rf "$tmp" "$cache"
mkdir -p "$tmp"
echo "building the arm64 VM root in $cache (bookworm: $packages; $kernel_package)" >&2
mmdebstrap --quiet --architectures=arm64 --variant=apt --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt=force-unsafe-io \
    --customize-hook="\"$here/tests/vm/root.sh\" --kernel \"\$1\" \"$tmp\"" \
    "$suite" "$tmp/root" >&2

kernels=("$tmp"/vmlinuz-*)
if [ "${#kernels[@]}" != 1 ] || [ ! -f "${kernels[0]}" ]; then
    echo "iptables-wrapper: expected one kernel in $kernel_package, found: ${kernels[*]}" >&2
    exit 1
fi
version=${kernels[0]##*/vmlinuz-}
mv "${kernels[0]}" "$tmp/vmlinuz"
mv "$tmp/config-$version" "$tmp/config"
for opt in CONFIG_EXT4_FS=y CONFIG_SERIAL_AMBA_PL011_CONSOLE=y CONFIG_DEVTMPFS=y; do
    if ! grep -qx "$opt" "$tmp/config"; then
        echo "iptables-wrapper: kernel $version lacks $opt, which the VM's boot relies on" >&2
        exit 1
    fi
done

# The initramfs: busybox, the virtio modules, and /init.
ir=$tmp/initrd
mkdir -p "$ir/bin" "$ir/modules" "$ir/dev" "$ir/proc" "$ir/newroot"
cp "$tmp/root/bin/busybox" "$ir/bin/busybox"
for m in $initrd_modules; do
    ko=$(find "$tmp/root/lib/modules/$version" -name "$m.ko")
    if [ -z "$ko" ]; then
        echo "iptables-wrapper: module $m.ko is not in kernel $version" >&2
        exit 1
    fi
    cp "$ko" "$ir/modules/"
done
cat >"$ir/init" <<INIT
#!/bin/busybox sh
# Loads virtio, mounts the disk and hands over to init= (tests/vm/root.sh).
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox mount -t proc proc /proc
for m in $initrd_modules; do
    /bin/busybox insmod /modules/\$m.ko || echo "initrd: insmod \$m failed"
done
init=/sbin/init
for a in \$(/bin/busybox cat /proc/cmdline); do
    case \$a in init=*) init=\${a#init=} ;; esac
done
i=0
while [ ! -b /dev/vda ] && [ \$i -lt 100 ]; do /bin/busybox sleep 0.1; i=\$((i + 1)); done
/bin/busybox mount -t ext4 -o rw /dev/vda /newroot || {
    echo "initrd: cannot mount /dev/vda"
    /bin/busybox sleep 1
    exit 1
}
/bin/busybox umount /proc
/bin/busybox mount --move /dev /newroot/dev
exec /bin/busybox switch_root /newroot "\$init"
INIT
chmod 755 "$ir/init"
(cd "$ir" && find . | busybox cpio -o -H newc -R 0:0 2>/dev/null | gzip -1 >"$tmp/initrd.img")
rm -rf "$ir"
echo "$version" >"$tmp/kernel-version"
touch "$tmp/.complete"
mv "$tmp" "$cache"
echo "built the arm64 VM root in $((SECONDS - start)) s (kernel $version)" >&2
echo "$cache"
