#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Real cgroup v2 enforcement: boots Debian's 6.1 cloud kernel under TCG with
# cgroup_no_v1=all (test-environment.md) on a busybox initramfs built here,
# with the check program (argument 1) and the shared libraries ldd lists, and
# a sparse virtio disk for io.max and page-cache pressure. The guest prints
# "PCG ok|FAIL|measure ..." lines on the serial console; this script fails on
# any FAIL or when the guest does not finish, and prints the measures as
# BENCH lines. Needs root (the kernel image is root-only), qemu-system-x86_64
# and busybox-static; exits 77 without them.
set -euo pipefail

check=${1:?usage: test-cgroup2.sh CHECK-BINARY}
skip() { echo "SKIP: $*" >&2; exit 77; }

[[ $(id -u) == 0 ]] || skip "not root: the cloud kernel image is readable by root only"
kernel=${KERNEL:-$(ls -1 /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n1)}
[[ -n $kernel && -r $kernel ]] || skip "no /boot/vmlinuz-*-cloud-amd64 (apt-get install linux-image-cloud-amd64)"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64"
busybox=${BUSYBOX:-/usr/bin/busybox}
[[ $(ldd "$busybox" 2>&1 || true) == *"not a dynamic executable"* ]] || skip "$busybox is not static (busybox-static)"
kver=${kernel#*/vmlinuz-}
[[ -d /lib/modules/$kver ]] || skip "no /lib/modules/$kver for the virtio modules"

work=$(mktemp -d /tmp/prescient-cgroup2.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
cp "$busybox" "$root/bin/busybox"
cp "$check" "$root/bin/cgroup2-check"
# The check program's libraries (and the loader) at their own paths.
for lib in $(ldd "$check" | grep -o '/[^ ]*'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
# virtio_pci and virtio_blk are modules in the cloud kernel; load order from modprobe.
: >"$root/lib/modules/order"
for path in $(modprobe -S "$kver" --show-depends -a virtio_pci virtio_blk | awk '$1 == "insmod" { print $2 }'); do
	name=$(basename "$path"); name=${name%%.ko*}.ko
	grep -qx "$name" "$root/lib/modules/order" && continue
	case $path in
	*.ko) cp "$path" "$root/lib/modules/$name" ;;
	*.ko.xz) xz -dc "$path" >"$root/lib/modules/$name" ;;
	*.ko.zst) zstd -qdc "$path" >"$root/lib/modules/$name" ;;
	esac
	echo "$name" >>"$root/lib/modules/order"
done
cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
echo "PCG info kernel $(uname -r) controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
/bin/cgroup2-check /sys/fs/cgroup vda
echo "PCG exit $?"
poweroff -f
INIT
chmod 755 "$root/init"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 >"$work/initramfs.cpio.gz"
truncate -s 1200M "$work/disk.raw"

log=$work/console.log
start=$(date +%s)
timeout 600 qemu-system-x86_64 -accel tcg -m 768 -smp 2 -nographic -no-reboot \
	-kernel "$kernel" -initrd "$work/initramfs.cpio.gz" \
	-drive file="$work/disk.raw",format=raw,if=virtio \
	-net none \
	-append "console=ttyS0 quiet cgroup_no_v1=all panic=-1" </dev/null >"$log" 2>&1 || true
echo "guest ran $(( $(date +%s) - start )) s"
tr -d '\r' <"$log" | grep '^PCG' || true

fails=$(tr -d '\r' <"$log" | grep -c '^PCG FAIL' || true)
oks=$(tr -d '\r' <"$log" | grep -c '^PCG ok' || true)
tr -d '\r' <"$log" | awk '$1 == "PCG" && $2 == "measure" { print "BENCH cgroup2_" $3, $4 }'
if ! tr -d '\r' <"$log" | grep -q '^PCG done'; then
	echo "guest did not finish; console tail:" >&2
	tail -n 30 "$log" >&2
	exit 1
fi
echo "$oks checks passed, $fails failed"
[[ $fails == 0 && $oks -gt 30 ]]
