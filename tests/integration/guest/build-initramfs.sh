#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Builds the guest for the integration tests into OUTDIR:
#   OUTDIR/prescient-loadgen   static load generator (guest/loadgen.c)
#   OUTDIR/initramfs.cpio.gz   busybox-static + /init + loadgen + virtio modules
#   OUTDIR/vmlinuz             symlink to the host's cloud kernel
# The cloud kernel builds virtio as modules, so the matching virtio_pci,
# virtio_blk and virtio_net (with their dependencies from modules.dep) are
# copied in and loaded by /init. Runs in about a second; the tests call it at
# run time so no build directory flags (sanitizers) leak into the static guest
# binary.
#
# Environment: KERNEL (vmlinuz path, default the newest
# /boot/vmlinuz-*-cloud-amd64), CC (default cc), BUSYBOX (default
# /usr/bin/busybox, must be static).
set -euo pipefail

outdir=${1:?usage: build-initramfs.sh OUTDIR}
srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

kernel=${KERNEL:-$(ls -1 /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n1)}
[[ -n $kernel && -r $kernel ]] || { echo "build-initramfs: no cloud kernel in /boot" >&2; exit 1; }
kver=${kernel#*/vmlinuz-}
moddir=/lib/modules/$kver
[[ -r $moddir/modules.dep ]] || { echo "build-initramfs: no $moddir/modules.dep" >&2; exit 1; }
busybox=${BUSYBOX:-/usr/bin/busybox}
# ldd fails on a static binary: capture its verdict, not its status.
if [[ $(ldd "$busybox" 2>&1 || true) != *"not a dynamic executable"* ]]; then
	echo "build-initramfs: $busybox is not static (install busybox-static)" >&2
	exit 1
fi

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
root=$(mktemp -d "$outdir/root.XXXXXX")
trap 'rm -rf "$root"' EXIT

${CC:-cc} -static -O2 -Wall -Wextra -Werror -o "$outdir/prescient-loadgen" "$srcdir/loadgen.c"

mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt,lib/modules}
cp "$busybox" "$root/bin/busybox"
cp "$outdir/prescient-loadgen" "$root/bin/prescient-loadgen"

# Module load order: dependencies first (modules.dep lists a module's
# dependencies after it, the deepest last), each module once.
declare -A seen=()
order=()
add_module() {
	local name=$1 line path deps dep i
	line=$(grep -E "(^|/)${name}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -n1) || true
	[[ -n $line ]] || { grep -qE "/${name}\.ko" "$moddir/modules.builtin" && return 0; \
		echo "build-initramfs: module $name not found" >&2; exit 1; }
	path=${line%%:*}
	deps=(${line#*:})
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
		dep=$(basename "${deps[i]}"); dep=${dep%%.ko*}
		add_module "$dep"
	done
	[[ -n ${seen[$path]:-} ]] && return 0
	seen[$path]=1
	order+=("$path")
}
for m in virtio_pci virtio_blk virtio_net; do
	add_module "$m"
done
: >"$root/lib/modules/order"
for path in "${order[@]}"; do
	case $path in
	*.ko) cp "$moddir/$path" "$root/lib/modules/" ;;
	*.ko.xz) xz -dc "$moddir/$path" >"$root/lib/modules/$(basename "${path%.xz}")" ;;
	*.ko.zst) zstd -qdc "$moddir/$path" >"$root/lib/modules/$(basename "${path%.zst}")" ;;
	*) echo "build-initramfs: unknown module format $path" >&2; exit 1 ;;
	esac
	b=$(basename "$path"); echo "${b%%.ko*}.ko" >>"$root/lib/modules/order"
done

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
# Guest /init: mount the pseudo file systems, load virtio, set up the NIC from
# prescient.ip= and run the load generator as a child, its output on the
# serial console. init itself never exits (that would panic the guest).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /lib/modules/order); do
	insmod /lib/modules/$m || echo "prescient-guest: insmod $m failed"
done
ip link set lo up
addr=
for w in $(cat /proc/cmdline); do
	case $w in
	prescient.ip=*) addr=${w#prescient.ip=} ;;
	esac
done
if [ -n "$addr" ] && [ -e /sys/class/net/eth0 ]; then
	ip addr add "$addr" dev eth0 && ip link set eth0 up
fi
# A TCP sink on port 5001 for network load from the host side.
(while :; do nc -l -p 5001 >/dev/null 2>&1 || sleep 1; done) &
echo "prescient-guest: ready ip=${addr:-none} disks=$(ls /sys/block | grep vd | tr '\n' ' ')"
/bin/prescient-loadgen </dev/null >/dev/console 2>&1 &
while :; do
	sleep 3600
done
INIT
chmod 755 "$root/init"

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -9 >"$outdir/initramfs.cpio.gz.tmp"
mv "$outdir/initramfs.cpio.gz.tmp" "$outdir/initramfs.cpio.gz"
ln -sf "$kernel" "$outdir/vmlinuz"
echo "build-initramfs: $outdir/initramfs.cpio.gz ($(stat -c %s "$outdir/initramfs.cpio.gz") bytes, kernel $kver, modules: ${order[*]##*/})"
