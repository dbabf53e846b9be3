#!/usr/bin/env bash
# faults.sh: how many page faults does each process of a pod's start take?
# `rkt run` of a stored busybox image running /bin/true (nspawn flavor with
# --net=host, full isolation, and fly), and bare systemd-nspawn and
# `runc run` of the same rootfs, each run BENCH_RUNS times under
# `perf record -e page-faults -c 1`; the report gives the median count per
# process name (rkt, init = the nspawn stage1's /init, systemd-nspawn,
# supervisor, run = the fly stage1, true = the app, ...). On a VM whose
# page faults are expensive these counts explain most of a start, and
# unlike wall times they do not move with the machine's load. Results go
# to stdout and bench/out/.
#
# As root. Knobs:
#   RKT             the rkt binary (default: built from this tree); the
#                   stage1 images are taken from beside it
#   BENCH_RUNS      runs per contestant (default 7)
#   BENCH_TMPFS     an existing tmpfs dir to work in instead of mounting one
#   BENCH_SKIP      space-separated contestants to leave out
#                   (nspawn runc rkt-host rkt-full rkt-fly)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

[[ $(id -u) -eq 0 ]] || bench_die "run me as root: pods, nspawn and runc need it"
command -v perf >/dev/null || bench_die "perf is needed (apt-get install linux-perf)"
[[ -x /bin/busybox ]] || bench_die "a static /bin/busybox is needed (apt-get install busybox-static)"

runs=${BENCH_RUNS:-7}
bench_tmpfs_setup 1G
work=$BENCH_WORK
mkdir -p "$work/bin"
bench_find_rkt "$work/bin" || bench_die "no rkt to measure"
fly_aci=$(dirname "$RKT")/stage1-fly.aci
[[ -f $fly_aci && -f $(dirname "$RKT")/stage1-nspawn.aci ]] ||
	bench_die "no stage1 images beside $RKT (make builds them)"

bench_pod_setup
rootfs=$work/aci/rootfs
data=$BENCH_DATA
gc="$RKT --dir=$data gc --grace-period=0s"
run="$RKT --dir=$data run --pull-policy=never"
img=bench.example.com/busybox:1.0

declare -A cmds
order=()
contestant() {
	[[ " ${BENCH_SKIP:-} " != *" $1 "* ]] || return 0
	order+=("$1")
	cmds[$1]=$2
}
contestant nspawn "systemd-nspawn -D $rootfs --machine=rkt-bench --quiet --register=no --keep-unit --console=pipe --link-journal=no --kill-signal=SIGTERM /bin/true"
if command -v runc >/dev/null; then
	bench_oci_bundle "$work/bundle" "$rootfs"
	contestant runc "runc run --bundle $work/bundle rkt-bench-runc"
fi
contestant rkt-host "$run --net=host $img"
contestant rkt-full "$run --net=none $img --memory=256Mi --cpu=1 --cpu-shares=512 --oom-score-adj=100"
contestant rkt-fly "$run --stage1-path=$fly_aci $img"

# One line per run and process name: NAME COMM FAULTS. Round 0 is a
# warm-up, left out: the first pod of an image also renders its tree in
# the store (about 700 more faults in rkt).
for ((i = 0; i <= runs; i++)); do
	for n in "${order[@]}"; do
		$gc >/dev/null 2>&1 || true
		# shellcheck disable=SC2086 # plain words
		perf record -q -e page-faults -c 1 -o "$work/perf.data" -- ${cmds[$n]} >/dev/null 2>&1 ||
			bench_die "$n failed"
		((i > 0)) || continue
		perf report -i "$work/perf.data" --stdio --sort comm -F sample,comm 2>/dev/null |
			awk -v n="$n" '/^ *[0-9]+ / { print n, $2, $1 }'
	done
done >"$BENCH_OUT/faults.txt"
$gc >/dev/null 2>&1 || true

report() {
	bench_machine
	echo "runs:      $runs per contestant; median page faults per process name"
	echo
	printf '%-10s %-16s %8s\n' contestant process faults
	local n c
	for n in "${order[@]}"; do
		local total=0 m
		while read -r c; do
			# shellcheck disable=SC2046 # one number per line
			m=$(bench_median $(awk -v n="$n" -v c="$c" '$1 == n && $2 == c { print $3 }' "$BENCH_OUT/faults.txt"))
			printf '%-10s %-16s %8.0f\n' "$n" "$c" "$m"
			total=$(awk -v a="$total" -v b="$m" 'BEGIN { print a + b }')
		done < <(awk -v n="$n" '$1 == n { print $2 }' "$BENCH_OUT/faults.txt" | sort -u)
		printf '%-10s %-16s %8.0f\n' "$n" "(sum)" "$total"
	done
}

mkdir -p "$here/out"
report | tee "$here/out/faults-$(date +%Y%m%d-%H%M%S).txt"
