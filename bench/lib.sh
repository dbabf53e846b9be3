# shellcheck shell=bash
# Shared helpers for the benchmark scripts in this directory. Source it; do
# not run it. Every helper is side-effect free except bench_tmpfs_setup,
# which mounts a tmpfs and arranges for it to be unmounted on exit.

bench_die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

bench_log() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# bench_now_ns prints a monotonic-enough wall clock in nanoseconds.
bench_now_ns() {
	date +%s%N
}

# bench_ms START_NS END_NS prints the difference in milliseconds with one
# decimal.
bench_ms() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", (b - a) / 1e6 }'
}

# bench_median prints the median of its numeric arguments (the mean of the
# two middle values for an even count).
bench_median() {
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "n/a"; exit }
			if (NR % 2) { printf "%.1f\n", v[(NR + 1) / 2] }
			else { printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }
		}'
}

# bench_max prints the largest of its numeric arguments.
bench_max() {
	printf '%s\n' "$@" | sort -g | tail -n 1
}

# bench_ratio A B prints A/B with two decimals.
bench_ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f\n", a / b }'
}

# bench_peak_rss_kb FILE prints the "Maximum resident set size" that
# /usr/bin/time -v wrote to FILE, in kilobytes.
bench_peak_rss_kb() {
	awk -F': *' '/Maximum resident set size/ { print $2 }' "$1"
}

# bench_cpu_ms FILE prints the user+system CPU time, in milliseconds, that
# /usr/bin/time wrote to FILE: either -v output or lines of "%U %S".
bench_cpu_ms() {
	awk -F': *' '
		/User time \(seconds\)/ { t += $2; next }
		/System time \(seconds\)/ { t += $2; next }
		/^[0-9.]+ [0-9.]+$/ { split($0, f, " "); t += f[1] + f[2] }
		END { printf "%.0f\n", t * 1000 }' "$1"
}

# bench_tmpfs_setup SIZE sets BENCH_WORK to a fresh directory on a tmpfs.
# With BENCH_TMPFS set to an existing tmpfs directory (for example /dev/shm)
# nothing is mounted and a subdirectory of it is used; otherwise a tmpfs of
# SIZE is mounted on a new temporary directory (root needed). Either way the
# directory is removed, and the tmpfs unmounted, when the script exits.
bench_tmpfs_setup() {
	local size=$1
	if [[ -n ${BENCH_TMPFS:-} ]]; then
		[[ $(stat -f -c %T "$BENCH_TMPFS") == tmpfs ]] ||
			bench_die "BENCH_TMPFS=$BENCH_TMPFS is not on a tmpfs"
		BENCH_WORK=$(mktemp -d "$BENCH_TMPFS/rkt-bench.XXXXXX")
		BENCH_MOUNTED=
	else
		[[ $(id -u) -eq 0 ]] ||
			bench_die "mounting a tmpfs needs root; or set BENCH_TMPFS to a tmpfs directory such as /dev/shm"
		BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/rkt-bench.XXXXXX")
		mount -t tmpfs -o "size=$size,mode=0755" rkt-bench "$BENCH_WORK" ||
			bench_die "mounting a tmpfs on $BENCH_WORK"
		BENCH_MOUNTED=1
	fi
	trap bench_tmpfs_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_tmpfs_cleanup() {
	[[ -n ${BENCH_WORK:-} ]] || return 0
	# A gpg-agent started for a keyring inside the work dir keeps its
	# socket there and would make the unmount fail.
	if [[ -n ${GNUPGHOME:-} && $GNUPGHOME == "$BENCH_WORK"/* ]]; then
		gpgconf --kill all 2>/dev/null || true
	fi
	if [[ -n ${BENCH_MOUNTED:-} ]]; then
		# A killed fetch may leave nothing mounted inside, but be lazy in
		# case something still holds a file open.
		umount "$BENCH_WORK" 2>/dev/null || umount -l "$BENCH_WORK"
		rmdir "$BENCH_WORK"
	else
		rm -rf "$BENCH_WORK"
	fi
	BENCH_WORK=
}

# bench_find_rkt sets RKT to the binary to measure: $RKT if set, otherwise a
# fresh build of ./rkt from the repository into DIR. It returns 1 (and
# leaves RKT empty) when there is no binary to measure.
bench_find_rkt() {
	local dir=$1 repo
	if [[ -n ${RKT:-} ]]; then
		[[ -x $RKT ]] || bench_die "RKT=$RKT is not an executable"
		RKT_GIVEN=${RKT_GIVEN-1}
		return 0
	fi
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	if [[ ! -d $repo/rkt ]]; then
		bench_log "no rkt/ package in $repo yet: measuring the floor only"
		return 1
	fi
	bench_log "building rkt from $repo"
	if ! (cd "$repo" && go build -trimpath -o "$dir/rkt" ./rkt) >&2; then
		bench_log "building rkt failed: measuring the floor only"
		return 1
	fi
	RKT=$dir/rkt
}

# bench_busybox_aci makes, under DIR, the image every pod benchmark runs:
# DIR/aci/rootfs (static busybox with sh and true, plus what systemd-nspawn
# wants to find: /usr, os-release, the mount points) and DIR/busybox.aci,
# bench.example.com/busybox:1.0 running /bin/true.
bench_busybox_aci() {
	local dir=$1 rootfs=$1/aci/rootfs
	mkdir -p "$rootfs"/{bin,etc,usr/lib,proc,sys,dev,tmp,run}
	cp /bin/busybox "$rootfs/bin/busybox"
	ln -s busybox "$rootfs/bin/sh"
	ln -s busybox "$rootfs/bin/true"
	printf 'ID=rkt-bench\nNAME="rkt bench busybox"\n' >"$rootfs/usr/lib/os-release"
	ln -s ../usr/lib/os-release "$rootfs/etc/os-release"
	printf 'root:x:0:0:root:/:/bin/sh\n' >"$rootfs/etc/passwd"
	printf 'root:x:0:\n' >"$rootfs/etc/group"
	cat >"$dir/aci/manifest" <<'EOF_MANIFEST'
{"acKind":"ImageManifest","acVersion":"0.8.11","name":"bench.example.com/busybox",
 "labels":[{"name":"version","value":"1.0"},{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}],
 "app":{"exec":["/bin/true"],"user":"0","group":"0"}}
EOF_MANIFEST
	tar -C "$dir/aci" -cf "$dir/busybox.aci" manifest rootfs
}

# bench_oci_bundle makes an OCI bundle in DIR for crun and runc: the
# default spec (`runc spec`) running /bin/true without a terminal on
# ROOTFS (an absolute path: runc refuses one reached through a symlink).
bench_oci_bundle() {
	local dir=$1 rootfs=$2
	mkdir -p "$dir"
	(cd "$dir" && runc spec)
	jq --arg root "$rootfs" '.process.args = ["/bin/true"] | .process.terminal = false | .root.path = $root' \
		"$dir/config.json" >"$dir/config.json.new"
	mv "$dir/config.json.new" "$dir/config.json"
}

# bench_machine prints one line per fact about the machine and the build.
bench_machine() {
	local repo cpu
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	printf 'date:      %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf 'host:      %s, %s cpus, %s\n' "${cpu:-unknown cpu}" "$(nproc)" \
		"$(awk '/^MemTotal/ { printf "%d MB RAM", $2 / 1024 }' /proc/meminfo)"
	printf 'kernel:    %s\n' "$(uname -sr)"
	local rev
	rev=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
	if [[ -n ${RKT_GIVEN:-} ]]; then
		printf 'commit:    %s (of the scripts; rkt was given by RKT)\n' "$rev"
	else
		printf 'commit:    %s (rkt built from this tree)\n' "$rev"
	fi
	if command -v go >/dev/null; then
		printf 'go:        %s\n' "$(go version | awk '{ print $3 }')"
	fi
	if [[ -n ${RKT:-} ]]; then
		printf 'rkt:       %s (%s)\n' "$RKT" "$("$RKT" version 2>/dev/null | head -n 1)"
	fi
}
