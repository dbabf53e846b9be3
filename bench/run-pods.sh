#!/usr/bin/env bash
# run-pods.sh: how long does `rkt run` of a stored busybox image running
# /bin/true take, with the nspawn and the fly stage1, next to the same
# rootfs run by systemd-nspawn directly, crun, runc and podman, with
# `unshare` + `chroot` as the floor? Medians over BENCH_RUNS rounds (every
# contestant once per round, so that load drifting on a shared machine
# weighs on all alike), ratios to the floor and to bare systemd-nspawn,
# and the peak RSS of `rkt run` (/usr/bin/time -v). Results go to stdout
# and bench/out/.
#
# As root. Knobs:
#   RKT             the rkt binary (default: built from this tree); the
#                   stage1 images are taken from beside it, or built there
#   BENCH_RUNS      timed rounds (default 30)
#   BENCH_WARMUP    untimed rounds first (default 3)
#   BENCH_TMPFS     an existing tmpfs dir to work in instead of mounting one
#   BENCH_SKIP      space-separated contestants to leave out
#                   (floor nspawn crun runc podman rkt-nspawn rkt-fly)
#
# Peers need workarounds on hosts with hybrid cgroups (v1 controllers plus
# a v2 hierarchy at /sys/fs/cgroup/unified holding a controller, e.g.
# hugetlb) and a hard RLIMIT_NOFILE below podman's default; see
# bench/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

[[ $(id -u) -eq 0 ]] || bench_die "run me as root: pods, nspawn and the OCI runtimes need it"
command -v jq >/dev/null || bench_die "jq is needed (apt-get install jq)"
[[ -x /bin/busybox ]] || bench_die "a static /bin/busybox is needed (apt-get install busybox-static)"

runs=${BENCH_RUNS:-30}
warmup=${BENCH_WARMUP:-3}
BENCH_SKIP=" ${BENCH_SKIP:-} "

bench_tmpfs_setup 1G
work=$BENCH_WORK

bindir=$work/bin
mkdir -p "$bindir"
if bench_find_rkt "$bindir"; then
	rktdir=$(dirname "$RKT")
	version=$("$RKT" version 2>/dev/null | awk -F': *' '/^rkt Version/ { print $2 }')
	for flavor in nspawn fly; do
		if [[ ! -f $rktdir/stage1-$flavor.aci ]]; then
			[[ -w $rktdir ]] || bench_die "no $rktdir/stage1-$flavor.aci and $rktdir is not writable"
			bench_log "building stage1-$flavor.aci beside $RKT"
			(cd "$repo" && CGO_ENABLED=0 go run ./stage1/image/mkimage -flavor="$flavor" \
				-version="${version:-0.0.0}" -o "$rktdir/stage1-$flavor.aci") >&2 ||
				bench_die "building stage1-$flavor.aci"
		fi
	done
fi
if [[ -z ${RKT:-} ]]; then
	BENCH_SKIP+=" rkt-nspawn rkt-fly "
elif ! "$RKT" help 2>/dev/null | grep -qE '^ +run '; then
	bench_log "$RKT has no run command yet: measuring the peers only"
	BENCH_SKIP+=" rkt-nspawn rkt-fly "
fi

# The rootfs every contestant runs, in the store of rkt too, and the OCI
# bundle of crun and runc on it. Also enters the bench cgroup, removed on
# exit with what nspawn made in it (bench_cgroup_enter).
bench_pod_setup
rootfs=$work/aci/rootfs
bundle=$work/bundle
bench_oci_bundle "$bundle" "$rootfs"
data=$BENCH_DATA
out=$BENCH_OUT

gc="${RKT:-false} --dir=$data gc --grace-period=0s"
fly_aci=${RKT:+$(dirname "$RKT")/stage1-fly.aci}
# crun 1.8 refuses hybrid cgroups whose v2 hierarchy holds any controller:
# it runs in a mount namespace where /sys/fs/cgroup/unified is unmounted
# (the wrapper's cost, unshare + sh, is part of its figure).
cat >"$work/crun-hybrid" <<EOF_CRUN
#!/bin/sh
umount /sys/fs/cgroup/unified && exec crun run --bundle $bundle rkt-bench-crun
EOF_CRUN
chmod +x "$work/crun-hybrid"

bench_contestant floor "" "unshare --mount --uts --ipc --pid --fork chroot $rootfs /bin/true"
# The flags the nspawn stage1 gives nspawn for the same pod.
bench_contestant nspawn "" "systemd-nspawn -D $rootfs --machine=rkt-bench --quiet --register=no --keep-unit --console=pipe --link-journal=no --kill-signal=SIGTERM /bin/true"
bench_contestant crun "" "unshare --mount $work/crun-hybrid"
bench_contestant runc "" "runc run --bundle $bundle rkt-bench-runc"
# podman: runc (crun fails on hybrid cgroups as above), cgroupfs (no
# system bus), file events (no journal), rlimits below the host's hard
# limits (its defaults exceed them and setrlimit fails), host network.
bench_contestant podman "" "podman --runtime=runc --cgroup-manager=cgroupfs --events-backend=file run --rm --network=host --ulimit=nofile=1024:1024 --ulimit=nproc=1024:1024 --rootfs $rootfs /bin/true"
bench_contestant rkt-nspawn "$gc" "${RKT:-false} --dir=$data run --pull-policy=never --net=host bench.example.com/busybox:1.0"
bench_contestant rkt-fly "$gc" "${RKT:-false} --dir=$data run --pull-policy=never --stage1-path=$fly_aci bench.example.com/busybox:1.0"
bench_rounds "$warmup" "$runs"
names=()
for n in "${BENCH_NAMES[@]}"; do
	[[ -z ${BENCH_FAILED[$n]:-} ]] && names+=("$n")
done

# Peak RSS of rkt run (rkt execs into stage1: the figure is the largest of
# rkt and what it became; the children of nspawn are not counted).
rss_n=n/a
rss_f=n/a
if [[ " ${names[*]} " == *" rkt-nspawn "* ]]; then
	$gc >/dev/null 2>&1 || true
	/usr/bin/time -v -o "$out/rss-nspawn.txt" "$RKT" --dir="$data" run --pull-policy=never --net=host \
		bench.example.com/busybox:1.0 >/dev/null 2>&1 || true
	rss_n=$(bench_peak_rss_kb "$out/rss-nspawn.txt")
fi
if [[ " ${names[*]} " == *" rkt-fly "* ]]; then
	$gc >/dev/null 2>&1 || true
	/usr/bin/time -v -o "$out/rss-fly.txt" "$RKT" --dir="$data" run --pull-policy=never \
		--stage1-path="$fly_aci" bench.example.com/busybox:1.0 >/dev/null 2>&1 || true
	rss_f=$(bench_peak_rss_kb "$out/rss-fly.txt")
fi
if [[ -n ${RKT:-} ]]; then
	$gc >/dev/null 2>&1 || true
fi

median_ms() {
	bench_result "$1"
}

report() {
	bench_machine
	echo "runs:      $runs rounds (+$warmup warm-up), contestants interleaved; medians of wall time"
	echo
	local floor=n/a bare=n/a n m rf rb
	floor=$(median_ms floor)
	bare=$(median_ms nspawn)
	printf '%-12s %10s %10s %10s\n' contestant "median ms" "x floor" "x nspawn"
	for n in "${names[@]}"; do
		m=$(median_ms "$n")
		rf=n/a
		rb=n/a
		if [[ $floor != n/a ]]; then rf=$(bench_ratio "$m" "$floor"); fi
		if [[ $bare != n/a ]]; then rb=$(bench_ratio "$m" "$bare"); fi
		printf '%-12s %10.1f %10s %10s\n' "$n" "$m" "$rf" "$rb"
	done
	echo
	echo "peak RSS of rkt run: nspawn ${rss_n} kB, fly ${rss_f} kB"
	echo
	echo "targets: rkt-nspawn <= 1.2 x nspawn; rkt-fly <= 3 x floor and < crun; peak RSS < 30 MB"
}

mkdir -p "$here/out"
report | tee "$here/out/run-pods-$(date +%Y%m%d-%H%M%S).txt"
