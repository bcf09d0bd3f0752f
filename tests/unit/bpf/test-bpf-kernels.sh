#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# CO-RE across kernels: boots Debian's 6.1 cloud kernel under TCG with an
# initramfs made here (busybox-static, the test programs and the shared
# libraries ldd lists) and runs the load-and-attach test and the accuracy
# tests inside, against that kernel's BTF. The host kernel (6.18) runs the
# same tests directly. Usage: test-bpf-kernels.sh <test binary>...
set -eu

[ $# -gt 0 ] || { echo "usage: $0 <test binary>..." >&2; exit 2; }
kernel=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n 1 || true)
busybox=$(command -v busybox || true)
qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$kernel" ] || { echo "SKIP: no /boot/vmlinuz-*-cloud-amd64 (linux-image-cloud-amd64)" >&2; exit 77; }
[ -n "$busybox" ] || { echo "SKIP: no busybox (busybox-static)" >&2; exit 77; }
[ -n "$qemu" ] || { echo "SKIP: no qemu-system-x86_64" >&2; exit 77; }
! ldd "$busybox" >/dev/null 2>&1 ||
	{ echo "SKIP: busybox is not static (busybox-static)" >&2; exit 77; }
command -v cpio >/dev/null || { echo "SKIP: no cpio" >&2; exit 77; }

work=$(mktemp -d /tmp/prescient-bpf-kernels.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
root=$work/root
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for app in mount echo cat poweroff sleep mkdir insmod mke2fs sysctl losetup dd; do
	ln -s busybox "$root/bin/$app"
done
# A loop device (backed by a file in the guest's tmpfs) for the disk test
# and veth for the net test: the cloud kernel has them as modules, taken
# from its own /lib/modules when there.
release=$(basename "$kernel" | sed 's/^vmlinuz-//')
mods=/lib/modules/$release/kernel/drivers
mkdir -p "$root/modules"
for m in block/loop net/veth; do
	[ -f "$mods/$m.ko" ] && cp "$mods/$m.ko" "$root/modules/"
done
# iproute2's ip creates the veth pair (busybox's cannot), and a real /bin/sh
# runs it: busybox's shell would prefer its own applet.
ip_bin=$(command -v ip || true)
sh_bin=$(readlink -f /bin/sh)
set -- "$@" ${ip_bin:+"$ip_bin"} "$sh_bin"
tests=""
for test_bin in "$@"; do
	name=$(basename "$test_bin")
	cp "$test_bin" "$root/bin/$name"
	case "$test_bin" in
	"$ip_bin") ;;
	"$sh_bin") cp "$test_bin" "$root/bin/sh" ;;
	*) tests="$tests $name" ;;
	esac
	# The binary's shared libraries and loader, at the same paths.
	ldd "$test_bin" | awk '/=> \// { print $3 } /^\t\// { print $1 }' | while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
done

cat > "$root/init" <<INIT
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
export PATH=/bin
for m in loop veth; do
	[ -f /modules/\$m.ko ] && insmod /modules/\$m.ko
done
mkdir -p /var/tmp
dd if=/dev/zero of=/tmp/disk.img bs=1M count=64 2>/dev/null
losetup /dev/loop0 /tmp/disk.img && mke2fs -q /dev/loop0 && mount -t ext4 /dev/loop0 /var/tmp
echo "KERNEL \$(cat /proc/sys/kernel/osrelease)"
for t in $tests; do
	/bin/\$t
	echo "RESULT \$t \$?"
done
echo "DONE"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initramfs.cpio.gz"

out=$work/console.log
timeout 280 "$qemu" -accel tcg -m 512 -smp 2 -nographic -no-reboot -nodefaults \
	-serial stdio -kernel "$kernel" -initrd "$work/initramfs.cpio.gz" \
	-append "console=ttyS0 quiet panic=-1" > "$out" 2>&1 || true
tr -d '\r' < "$out" | grep -v '^<7>' | grep -E 'KERNEL|status:|check|RESULT|SKIP|^[a-z]+: ' >&2 || true
grep -q '^DONE' "$out" || { echo "guest did not finish" >&2; tail -n 30 "$out" >&2; exit 1; }
rc=0
for t in $tests; do
	r=$(tr -d '\r' < "$out" | sed -n "s/^RESULT $t \\([0-9]*\\).*/\\1/p" | tail -n 1)
	case "$r" in
	0 | 77) ;;
	*) echo "$t failed in the guest (${r:-no result})" >&2; rc=1 ;;
	esac
done
exit "$rc"
