#!/usr/bin/env bash
# run-net.sh: what does a pod's network and full isolation cost at start?
# `rkt run` of a stored busybox image running /bin/true with the default
# network (CNI ptp, masqueraded) against --net=none and --net=host, next to
# `podman run` with its default network (CNI bridge) and with none; and
# rkt with full isolation (default capabilities, seccomp, paths, cgroup
# limits, a network namespace) against `runc run` of the same rootfs.
# Medians over BENCH_RUNS rounds (every contestant once per round, so that
# load drifting on a shared machine weighs on all alike), the network's
# cost in ms, and ratios. Results go to stdout and bench/out/.
#
# As root. Knobs:
#   RKT             the rkt binary (default: built from this tree); the
#                   stage1 images are taken from beside it, or built there
#   BENCH_RUNS      timed rounds (default 30)
#   BENCH_WARMUP    untimed rounds first (default 3)
#   BENCH_TMPFS     an existing tmpfs dir to work in instead of mounting one
#   BENCH_SKIP      space-separated contestants to leave out (nspawn
#                   nspawn-noseccomp runc podman-none podman-default rkt-host
#                   rkt-none rkt-default rkt-full)
#
# The pods only run /bin/true: no traffic is sent anywhere. The default
# network does change the host: it adds the pods' veths while they run,
# and rkt's masquerade rules for 172.16.28.0/24 (podman: its bridge cni-podman0
# and rules for 10.88.0.0/16), as running them by hand would.
#
# Peers need workarounds on hosts with hybrid cgroups and a hard
# RLIMIT_NOFILE below podman's default; see bench/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

[[ $(id -u) -eq 0 ]] || bench_die "run me as root: pods, networks and the OCI runtimes need it"
command -v jq >/dev/null || bench_die "jq is needed (apt-get install jq)"
[[ -x /bin/busybox ]] || bench_die "a static /bin/busybox is needed (apt-get install busybox-static)"
[[ -x /usr/lib/cni/ptp || -x /opt/cni/bin/ptp ]] ||
	bench_die "the CNI plugins are needed (apt-get install containernetworking-plugins)"

runs=${BENCH_RUNS:-30}
warmup=${BENCH_WARMUP:-3}

bench_tmpfs_setup 1G
work=$BENCH_WORK

bindir=$work/bin
mkdir -p "$bindir"
bench_find_rkt "$bindir" || bench_die "no rkt to measure"
rktdir=$(dirname "$RKT")
version=$("$RKT" version 2>/dev/null | awk -F': *' '/^rkt Version/ { print $2 }')
if [[ ! -f $rktdir/stage1-nspawn.aci ]]; then
	[[ -w $rktdir ]] || bench_die "no $rktdir/stage1-nspawn.aci and $rktdir is not writable"
	bench_log "building stage1-nspawn.aci beside $RKT"
	(cd "$repo" && CGO_ENABLED=0 go run ./stage1/image/mkimage -flavor=nspawn \
		-version="${version:-0.0.0}" -o "$rktdir/stage1-nspawn.aci") >&2 ||
		bench_die "building stage1-nspawn.aci"
fi

# Also enters the bench cgroup, removed on exit with what nspawn made in
# it (bench_cgroup_enter).
bench_pod_setup
rootfs=$work/aci/rootfs
# OCI bundle for runc: the default spec (its own network, IPC, UTS, PID
# and mount namespaces, a capability set, masked paths, no seccomp).
bundle=$work/bundle
bench_oci_bundle "$bundle" "$rootfs"

data=$BENCH_DATA

gc="$RKT --dir=$data gc --grace-period=0s"
run="$RKT --dir=$data run --pull-policy=never"
img=bench.example.com/busybox:1.0
# podman on this kind of host: runc (crun refuses hybrid cgroups),
# cgroupfs (no system bus), file events (no journal), rlimits below the
# host's hard limits; see bench/README.md.
podman="podman --runtime=runc --cgroup-manager=cgroupfs --events-backend=file run --rm --ulimit=nofile=1024:1024 --ulimit=nproc=1024:1024"
# The flags the nspawn stage1 gives nspawn for the same pod.
nspawn_args="-D $rootfs --machine=rkt-bench --quiet --register=no --keep-unit --console=pipe --link-journal=no --kill-signal=SIGTERM --private-network /bin/true"

bench_contestant nspawn "" "systemd-nspawn $nspawn_args"
# Without nspawn's own seccomp filter, as the nspawn stage1 runs it (the
# supervisor installs the project's cached filter for every app instead).
bench_contestant nspawn-noseccomp "" "env SYSTEMD_SECCOMP=0 systemd-nspawn $nspawn_args"
bench_contestant runc "" "runc run --bundle $bundle rkt-bench-runc"
bench_contestant podman-none "" "$podman --network=none --rootfs $rootfs /bin/true"
bench_contestant podman-default "" "$podman --rootfs $rootfs /bin/true"
bench_contestant rkt-host "$gc" "$run --net=host $img"
bench_contestant rkt-none "$gc" "$run --net=none $img"
bench_contestant rkt-default "$gc" "$run $img"
bench_contestant rkt-full "$gc" "$run --net=none $img --memory=256Mi --cpu=1 --cpu-shares=512 --oom-score-adj=100"

bench_rounds "$warmup" "$runs"
$gc >/dev/null 2>&1 || true

get() { bench_result "$1"; }

# diff_ms A B prints A-B with one decimal, n/a when either is.
diff_ms() {
	if [[ $1 == n/a || $2 == n/a ]]; then echo n/a; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", a - b }'; fi
}

ratio() {
	if [[ $1 == n/a || $2 == n/a ]]; then echo n/a; else bench_ratio "$1" "$2"; fi
}

report() {
	bench_machine
	echo "runs:      $runs rounds (+$warmup warm-up), contestants interleaved; medians of wall time"
	echo
	local n
	printf '%-16s %10s\n' contestant "median ms"
	for n in "${BENCH_NAMES[@]}"; do
		printf '%-16s %10s\n' "$n" "$(get "$n")"
	done
	local rd rn rh pd pn rf rc
	rd=$(get rkt-default)
	rn=$(get rkt-none)
	rh=$(get rkt-host)
	pd=$(get podman-default)
	pn=$(get podman-none)
	rf=$(get rkt-full)
	rc=$(get runc)
	echo
	echo "default network, rkt:     +$(diff_ms "$rd" "$rn") ms over --net=none (x$(ratio "$rd" "$rn")), +$(diff_ms "$rd" "$rh") ms over --net=host"
	echo "default network, podman:  +$(diff_ms "$pd" "$pn") ms over --network=none (x$(ratio "$pd" "$pn"))"
	echo "rkt default / podman default: x$(ratio "$rd" "$pd")"
	echo "rkt full isolation / runc run: x$(ratio "$rf" "$rc")"
	echo
	echo "targets: the default network adds <= 30 ms; full isolation faster than runc run (< 1.00)"
}

mkdir -p "$here/out"
report | tee "$here/out/run-net-$(date +%Y%m%d-%H%M%S).txt"
