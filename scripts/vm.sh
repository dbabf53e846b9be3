#!/usr/bin/env bash
# A real test host: a Debian 12 VM booted by qemu with systemd as PID 1 and
# a pure cgroup v2 hierarchy (systemd.unified_cgroup_hierarchy=1), with
# journald, dbus and machined running and `make install` of this tree inside.
# Run as root from anywhere in the tree:
#
#   scripts/vm.sh build        the base image (debootstrap, Debian's kernel),
#                              cached under build/vm/ by a hash of its recipe
#   scripts/vm.sh run CMD...   boot, install this tree, run CMD as root in the
#                              VM, print its output, power off; exits with
#                              CMD's status
#   scripts/vm.sh test [SUITE...]
#                              boot once and run the suites: pod, isolation,
#                              network (tests/ against /usr/bin/rkt) and
#                              systemd (tests/systemd/, real units); all of
#                              them by default
#   scripts/vm.sh boot         boot with the console on this terminal (root,
#                              no password; `poweroff` to leave)
#   scripts/vm.sh stop         kill a VM this script left running
#
# There is no KVM: qemu emulates the CPU (TCG). The VM has no network device,
# so nothing leaves the machine. The base image is never written to (qemu
# -snapshot); every run gets a fresh second disk with this tree's build
# (make install DESTDIR=..., PREFIX=/usr, the compiled functional tests),
# which a unit of the image copies into / before the job runs. The job's
# output comes back over a virtio-serial port; the console log is kept in
# build/vm/console.log and printed when the VM does not come up.
#
# Environment: VM_MEM (MiB, 2048), VM_CPUS (2), VM_TIMEOUT (seconds a run may
# take, 3600), VM_BOOT_TIMEOUT (seconds to the job's start, 900), DEBIAN_MIRROR
# (the mirror of /etc/apt/sources.list, else deb.debian.org).
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(repo_root)
VMDIR=$ROOT/build/vm
VM_MEM=${VM_MEM:-2048}
VM_CPUS=${VM_CPUS:-2}
VM_TIMEOUT=${VM_TIMEOUT:-3600}
VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-900}
SUITE=bookworm

# The packages of the image. Changing this list (or anything else in this
# script) changes the cache key and rebuilds the image.
VM_PACKAGES=(
	systemd systemd-sysv dbus systemd-container udev
	linux-image-amd64 initramfs-tools
	iptables iproute2 containernetworking-plugins busybox-static gnupg
	util-linux procps kmod ca-certificates
)

# The pod, isolation and network suites of tests/ as they run in the VM:
# everything but the tests that call the go tool (there is none in the VM)
# and the hundred-pod stress tests, which take hours under emulation.
VM_TESTS_POD='^TestPod(ListStatus|Stop.*|Enter|RmGCCatManifestExport|RmRunning|GCAfterKilledStage1|Fly.*|Interactive|KillRkt.*|FromRootCgroupLeavesNoCgroups|Run.*|PrepareRunPrepared)$'
VM_TESTS_ISO='^TestIso'
VM_TESTS_NET='^TestNet(Default|DefaultRestricted|PortForward|Host|None|Named|DNS|DNSHost|BrokenNetdFile)$'

# image_key hashes what goes into the image: the suite, the package list
# and the functions that build it.
image_key() {
	{
		echo "$SUITE ${VM_PACKAGES[*]}"
		declare -f build_image configure_rootfs
	} | sha256sum | cut -c1-16
}

mirror() {
	if [ -n "${DEBIAN_MIRROR:-}" ]; then
		echo "$DEBIAN_MIRROR"
		return
	fi
	local m
	m=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d 2>/dev/null |
		grep -oE 'https?://[^ ]+' | head -n 1 || true)
	echo "${m:-http://deb.debian.org/debian}"
}

# build_image makes build/vm/<key>/{rootfs.img,vmlinuz,initrd.img} unless
# they exist. The rootfs is a directory made by debootstrap, turned into an
# ext4 image by mkfs.ext4 -d (no loop mount, no root-only kernel feature but
# the chroot of debootstrap).
build_image() {
	local key dir rootfs t0 t1 t2
	key=$(image_key)
	dir=$VMDIR/$key
	IMG=$dir/rootfs.img KERNEL=$dir/vmlinuz INITRD=$dir/initrd.img
	if [ -s "$IMG" ] && [ -s "$KERNEL" ] && [ -s "$INITRD" ]; then
		say "image: $dir (cached)"
		return 0
	fi
	require_root build
	command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
	# Old images of other keys go: one is enough.
	mkdir -p "$VMDIR"
	find "$VMDIR" -mindepth 1 -maxdepth 1 -type d ! -name "$key" ! -name job -exec rm -rf {} +
	rm -rf "$dir"
	mkdir -p "$dir"
	rootfs=$dir/rootfs
	t0=$(date +%s)
	local incl
	incl=$(IFS=,; echo "${VM_PACKAGES[*]}")
	say "debootstrap $SUITE from $(mirror) ..."
	debootstrap --variant=minbase --include="$incl" "$SUITE" "$rootfs" "$(mirror)" >"$dir/debootstrap.log" 2>&1 ||
		{ tail -n 40 "$dir/debootstrap.log" >&2; die "debootstrap failed (log: $dir/debootstrap.log)"; }
	t1=$(date +%s)
	say "debootstrap took $((t1 - t0)) s"
	configure_rootfs "$rootfs"
	cp "$rootfs"/boot/vmlinuz-* "$dir/vmlinuz.tmp"
	cp "$rootfs"/boot/initrd.img-* "$dir/initrd.img.tmp"
	chmod 0644 "$dir/vmlinuz.tmp" "$dir/initrd.img.tmp"
	rm -f "$dir/rootfs.img.tmp"
	mkfs.ext4 -q -L rktvm -d "$rootfs" "$dir/rootfs.img.tmp" 4G ||
		die "mkfs.ext4 -d of the rootfs failed"
	rm -rf "$rootfs"
	mv "$dir/vmlinuz.tmp" "$KERNEL"
	mv "$dir/initrd.img.tmp" "$INITRD"
	mv "$dir/rootfs.img.tmp" "$IMG"
	t2=$(date +%s)
	say "image: $dir (debootstrap $((t1 - t0)) s, configuration and mkfs $((t2 - t1)) s)"
}

# configure_rootfs makes the debootstrapped tree bootable and gives it the
# unit that runs a job from the second disk.
configure_rootfs() {
	local r=$1
	echo rktvm >"$r/etc/hostname"
	printf '127.0.0.1 localhost rktvm\n::1 localhost\n' >"$r/etc/hosts"
	printf 'LABEL=rktvm / ext4 rw,errors=remount-ro 0 1\n' >"$r/etc/fstab"
	chroot "$r" passwd -d root >/dev/null
	# A small initramfs with what this VM needs: faster to unpack under TCG.
	printf 'MODULES=list\n' >"$r/etc/initramfs-tools/conf.d/rktvm.conf"
	printf 'virtio_pci\nvirtio_blk\nvirtio_console\next4\n' >>"$r/etc/initramfs-tools/modules"
	chroot "$r" update-initramfs -u -k all >/dev/null
	# Nothing here needs these; they slow the boot.
	chroot "$r" systemctl mask -q systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer \
		e2scrub_all.timer fstrim.timer man-db.timer 2>/dev/null || true

	cat >"$r/usr/local/sbin/rkt-vm-job" <<'EOF'
#!/bin/bash
# Runs the job of the second disk (LABEL=rktjob): copies its root/ into /,
# runs job.sh and reports its exit status on the virtio-serial port
# rkt.out, then powers the VM off.
port=/dev/virtio-ports/rkt.out
exec >"$port" 2>&1
echo "rkt-vm: ready"
mkdir -p /mnt/job
if ! mount LABEL=rktjob /mnt/job; then
	echo "rkt-vm: exit 125"
	systemctl poweroff
	exit 0
fi
cp -a /mnt/job/root/. /
systemctl daemon-reload
systemd-sysusers
systemd-tmpfiles --create
cd /mnt/job || exit 1
bash /mnt/job/job.sh </dev/null
rc=$?
echo "rkt-vm: exit $rc"
sync
systemctl poweroff
EOF
	chmod 0755 "$r/usr/local/sbin/rkt-vm-job"
	cat >"$r/etc/systemd/system/rkt-vm-job.service" <<'EOF'
[Unit]
Description=Run the job of the second disk
After=multi-user.target
ConditionPathExists=/dev/disk/by-label/rktjob

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/rkt-vm-job
StandardOutput=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
	chroot "$r" systemctl enable -q rkt-vm-job.service
	chroot "$r" apt-get clean
}

# make_job builds this tree on the host and writes the job disk
# build/vm/job.img (LABEL=rktjob): root/ (make install DESTDIR=root
# PREFIX=/usr, the compiled test binaries in /usr/lib/rkt/tests) and job.sh,
# the commands to run, read from stdin.
make_job() {
	local job=$VMDIR/job stage
	stage=$job/root
	rm -rf "$job" "$VMDIR/job.img"
	mkdir -p "$stage/usr/lib/rkt/tests"
	(
		cd "$ROOT"
		find_go
		# A build of its own: build/bin/rkt keeps this tree's own paths.
		make -s install PREFIX=/usr DESTDIR="$stage" RKT="$job/bin/rkt" >&2
		CGO_ENABLED=0 go test -c -o "$stage/usr/lib/rkt/tests/functional.test" ./tests/ >&2
		CGO_ENABLED=0 go test -c -o "$stage/usr/lib/rkt/tests/systemd.test" ./tests/systemd/ >&2
	) || die "building the tree for the VM failed"
	rm -rf "${job:?}/bin"
	# The functional suite takes the stage1 images from beside the binary
	# (there is no go tool in the VM to build them): a directory with the
	# installed rkt and the installed images, by symlinks.
	mkdir -p "$stage/usr/lib/rkt/tests/bin"
	ln -s /usr/bin/rkt "$stage/usr/lib/rkt/tests/bin/rkt"
	ln -s /usr/lib/rkt/stage1-images/stage1-nspawn.aci /usr/lib/rkt/stage1-images/stage1-fly.aci "$stage/usr/lib/rkt/tests/bin/"
	cat >"$job/job.sh"
	mkfs.ext4 -q -L rktjob -d "$job" "$VMDIR/job.img" 1G || die "mkfs.ext4 of the job disk failed"
}

QEMU_PID=
cleanup() {
	if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
		kill "$QEMU_PID" 2>/dev/null || true
		sleep 1
		kill -9 "$QEMU_PID" 2>/dev/null || true
	fi
	rm -f "$VMDIR/qemu.pid"
}

qemu_args() {
	printf '%s\n' -machine q35 -accel tcg -cpu max -smp "$VM_CPUS" -m "$VM_MEM" \
		-no-reboot -nic none -snapshot -display none \
		-kernel "$KERNEL" -initrd "$INITRD" \
		-append "root=LABEL=rktvm rw console=ttyS0 systemd.unified_cgroup_hierarchy=1 panic=-1 systemd.show_status=1" \
		-drive "file=$IMG,format=raw,if=virtio"
}

# boot_job boots the image with the job disk, streams the job's output and
# returns its exit status. A VM that does not reach the job, or a job that
# does not report its status, fails with the console log.
boot_job() {
	local out=$VMDIR/out.log console=$VMDIR/console.log t0 tready='' rc='' line seen=0 now
	local args
	mapfile -t args < <(qemu_args)
	rm -f "$out" "$console"
	: >"$out"
	trap cleanup EXIT INT TERM
	t0=$(date +%s)
	qemu-system-x86_64 "${args[@]}" \
		-drive "file=$VMDIR/job.img,format=raw,if=virtio" \
		-device virtio-serial-pci -chardev "file,id=out,path=$out" -device virtserialport,chardev=out,name=rkt.out \
		-serial "file:$console" -monitor none </dev/null >/dev/null 2>"$VMDIR/qemu.err" &
	QEMU_PID=$!
	echo "$QEMU_PID" >"$VMDIR/qemu.pid"
	while :; do
		# New lines of the job's output, as they come.
		while IFS= read -r line; do
			seen=$((seen + 1))
			case $line in
			"rkt-vm: ready")
				tready=$(($(date +%s) - t0))
				say "VM ready after $tready s"
				;;
			"rkt-vm: exit "*) rc=${line#rkt-vm: exit } ;;
			*) printf '%s\n' "$line" ;;
			esac
		done < <(tail -n +"$((seen + 1))" "$out" | tr -d '\r')
		kill -0 "$QEMU_PID" 2>/dev/null || break
		now=$(($(date +%s) - t0))
		if [ -z "$tready" ] && [ "$now" -gt "$VM_BOOT_TIMEOUT" ]; then
			say "the VM did not come up in $VM_BOOT_TIMEOUT s"
			break
		fi
		if [ "$now" -gt "$VM_TIMEOUT" ]; then
			say "the VM run took more than $VM_TIMEOUT s"
			break
		fi
		sleep 2
	done
	cleanup
	wait "$QEMU_PID" 2>/dev/null || true
	QEMU_PID=
	say "VM run took $(($(date +%s) - t0)) s"
	if [ -z "$rc" ]; then
		say "no exit status from the VM's job; qemu said:"
		cat "$VMDIR/qemu.err" >&2 || true
		say "console log ($console):"
		cat "$console" >&2 || true
		return 1
	fi
	return "$rc"
}

# suite_script prints the job commands of one suite.
suite_script() {
	local bin=functional.test run='' rkt=/usr/lib/rkt/tests/bin/rkt
	case $1 in
	pod) run=$VM_TESTS_POD ;;
	isolation) run=$VM_TESTS_ISO ;;
	network) run=$VM_TESTS_NET ;;
	systemd) bin=systemd.test rkt=/usr/bin/rkt ;;
	*) die "unknown suite $1 (pod, isolation, network, systemd)" ;;
	esac
	printf 'suite %s env RKT_TEST_BINARY=%s /usr/lib/rkt/tests/%s -test.v -test.count=1 -test.timeout=40m' "$1" "$rkt" "$bin"
	[ -z "$run" ] || printf " -test.run '%s'" "$run"
	printf '\n'
}

cmd_test() {
	local suites=("$@") s
	[ "${#suites[@]}" -ne 0 ] || suites=(pod isolation network systemd)
	for s in "${suites[@]}"; do
		suite_script "$s" >/dev/null
	done
	build_image
	{
		cat <<'EOF'
failed=()
suite() {
	local name=$1 t0 rc
	shift
	echo "=== suite $name: $*"
	t0=$(date +%s)
	"$@"
	rc=$?
	echo "=== suite $name: exit $rc after $(($(date +%s) - t0)) s"
	[ "$rc" -eq 0 ] || failed+=("$name")
}
echo "kernel $(uname -r), /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup), PID 1 is $(cat /proc/1/comm), system $(systemctl is-system-running)"
EOF
		for s in "${suites[@]}"; do
			suite_script "$s"
		done
		cat <<'EOF'
if [ "${#failed[@]}" -ne 0 ]; then
	echo "=== failed suites: ${failed[*]}"
	exit 1
fi
echo "=== all suites passed"
EOF
	} | make_job
	boot_job
}

# One compound command, read whole before it runs: editing this file while
# a VM runs cannot change what the running script does next.
{
case ${1:-} in
build)
	build_image
	;;
run)
	shift
	[ "$#" -gt 0 ] || die "usage: ${0##*/} run CMD..."
	build_image
	printf '%q ' "$@" | make_job
	boot_job
	;;
test)
	shift
	cmd_test "$@"
	;;
boot)
	build_image
	mapfile -t args < <(qemu_args)
	exec qemu-system-x86_64 "${args[@]}" -nographic
	;;
stop)
	if [ -s "$VMDIR/qemu.pid" ]; then
		kill "$(cat "$VMDIR/qemu.pid")" 2>/dev/null || true
		rm -f "$VMDIR/qemu.pid"
	fi
	;;
*)
	printf 'usage: %s build|run CMD...|test [SUITE...]|boot|stop\n' "${0##*/}" >&2
	exit 2
	;;
esac
exit
}
