#!/usr/bin/env bash
# starts.sh: where do the milliseconds of a pod's start go, process by
# process? Two measures:
#
#   timeline  `rkt run` of a stored busybox image running /bin/true (nspawn
#             flavor, --net=host, and full isolation), BENCH_RUNS times under
#             `perf record` of the exec and exit events: from the exec of
#             rkt to that of the stage1's /init, from /init to
#             systemd-nspawn, from nspawn to the supervisor, from the
#             supervisor to the app, and from the app to the end of the
#             start. Medians per segment.
#   floors    the start of each Go program of the pod on its own, exec to
#             exit, under `perf stat`: a Go hello world built here, `rkt
#             version`, the stage1's /init and supervisor with no pod (they
#             stop at their first check), and /bin/true. Median wall time
#             and page faults. A segment of the timeline minus its
#             program's floor is the work the program does for the pod.
#
# Results go to stdout and bench/out/. As root. Knobs:
#   RKT             the rkt binary (default: built from this tree); the
#                   stage1 images are taken from beside it
#   BENCH_RUNS      pod starts per flavor, and rounds of floors (default 15)
#   BENCH_TMPFS     an existing tmpfs dir to work in instead of mounting one
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

[[ $(id -u) -eq 0 ]] || bench_die "run me as root: pods need it"
command -v perf >/dev/null || bench_die "perf is needed (apt-get install linux-perf)"
command -v go >/dev/null || bench_die "go is needed (the hello world floor is built here)"
[[ -x /bin/busybox ]] || bench_die "a static /bin/busybox is needed (apt-get install busybox-static)"

runs=${BENCH_RUNS:-15}
bench_tmpfs_setup 1G
work=$BENCH_WORK
mkdir -p "$work/bin"
bench_find_rkt "$work/bin" || bench_die "no rkt to measure"
stage1=$(dirname "$RKT")/stage1-nspawn.aci
[[ -f $stage1 ]] || bench_die "no stage1-nspawn.aci beside $RKT (make builds it)"

bench_pod_setup
data=$BENCH_DATA
out=$BENCH_OUT
gc="$RKT --dir=$data gc --grace-period=0s"
run="$RKT --dir=$data run --pull-policy=never"
img=bench.example.com/busybox:1.0

# The floors' programs: the stage1's, as its image ships them.
mkdir -p "$work/stage1" "$work/hello"
tar -xf "$stage1" -C "$work/stage1" rootfs/init rootfs/nspawn-stage1 rootfs/supervisor
printf 'package main\n\nfunc main() {}\n' >"$work/hello/main.go"
(cd "$work/hello" && GOFLAGS='' GO111MODULE=off CGO_ENABLED=0 go build -o "$work/bin/hello" main.go) ||
	bench_die "building the hello world"

# timeline FLAVOR ARGS...: one line per run, the segments in ms.
timeline() {
	local flavor=$1 i
	shift
	for ((i = 0; i <= runs; i++)); do
		$gc >/dev/null 2>&1 || true
		# shellcheck disable=SC2086 # plain words
		perf record -q -e sched:sched_process_exec,sched:sched_process_exit -o "$work/sched.data" -- \
			$run "$@" >/dev/null 2>&1 || bench_die "$flavor: rkt run failed"
		((i > 0)) || continue # a warm-up
		perf script -i "$work/sched.data" -F pid,time,event,trace 2>/dev/null | awk -v flavor="$flavor" '
			{ t = $2; sub(":", "", t); t *= 1000 }
			/sched_process_exec/ {
				f = $0; sub(/.*filename=/, "", f); sub(/ .*/, "", f)
				if (rkt == "" && f ~ /\/rkt$/) { rkt = t; top = $1 }
				else if (init == "" && f ~ /\/init$/) init = t
				else if (nspawn == "" && f ~ /systemd-nspawn$/) nspawn = t
				else if (sup == "" && f == "/supervisor") sup = t
				else if (app == "" && f == "/bin/true") app = t
			}
			/sched_process_exit/ && $1 == top && /group_dead=1|group_dead=true/ { end = t }
			END {
				if (rkt == "" || init == "" || nspawn == "" || sup == "" || app == "" || end == "") exit 1
				printf "%s %.2f %.2f %.2f %.2f %.2f %.2f\n", flavor, init - rkt, nspawn - init, sup - nspawn, app - sup, end - app, end - rkt
			}' || bench_die "$flavor: the events of a start are incomplete"
	done
}

# floor NAME CMD...: one line per round, mean ms and faults of 5 runs.
floor() {
	local name=$1
	shift
	# The stage1's programs stop at their first check, exit status 254.
	perf stat -r 5 -e page-faults -o "$work/stat.txt" -- "$@" >/dev/null 2>&1 || true
	awk -v n="$name" '
		/page-faults/ { f = $1; gsub(",", "", f) }
		/seconds time elapsed/ { s = $1 }
		END { printf "%s %.2f %d\n", n, s * 1000, f }' "$work/stat.txt"
}

bench_log "timeline: $runs starts per flavor"
{
	timeline nspawn --net=host "$img"
	timeline full --net=none "$img" --memory=256Mi --cpu=1 --cpu-shares=512 --oom-score-adj=100
} >"$out/timeline.txt"
$gc >/dev/null 2>&1 || true

bench_log "floors: $runs rounds"
for ((i = 0; i < runs; i++)); do
	floor true /bin/true
	floor hello "$work/bin/hello"
	floor rkt-version "$RKT" version
	floor init "$work/stage1/rootfs/init"
	floor supervisor "$work/stage1/rootfs/supervisor"
done >"$out/floors.txt"

med() { # FILE KEY COLUMN
	# shellcheck disable=SC2046 # one number per word
	bench_median $(awk -v k="$2" -v c="$3" '$1 == k { print $c }' "$1")
}

bench_machine
echo "runs:      $runs pod starts per flavor; floors: $runs rounds of 5 runs"
echo
echo "timeline of a start, medians in ms:"
printf '%-8s %10s %12s %14s %12s %10s %8s\n' flavor "rkt->init" "init->nspawn" "nspawn->superv" "superv->app" "app->end" total
for f in nspawn full; do
	printf '%-8s %10s %12s %14s %12s %10s %8s\n' "$f" \
		"$(med "$out/timeline.txt" "$f" 2)" "$(med "$out/timeline.txt" "$f" 3)" \
		"$(med "$out/timeline.txt" "$f" 4)" "$(med "$out/timeline.txt" "$f" 5)" \
		"$(med "$out/timeline.txt" "$f" 6)" "$(med "$out/timeline.txt" "$f" 7)"
done
echo
echo "floors, exec to exit of each program alone, medians:"
printf '%-12s %8s %8s\n' program ms faults
for n in true hello rkt-version init supervisor; do
	printf '%-12s %8s %8s\n' "$n" "$(med "$out/floors.txt" "$n" 2)" "$(med "$out/floors.txt" "$n" 3)"
done
mkdir -p "$here/out"
cp "$out/timeline.txt" "$out/floors.txt" "$here/out/"
