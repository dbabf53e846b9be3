#!/usr/bin/env bash
# image-list.sh: time `rkt image list` on a store holding 1,000 images.
#
# It builds COUNT tiny ACIs with distinct names (bench.example.com/list-NNNN,
# version label, a manifest and one small file each), imports them with
# `rkt fetch --insecure-options=image` in batches (signatures are not what is
# measured here), checks that `image list` shows all of them, then times
# `rkt image list` (table) and `rkt image list --format=json` with hyperfine
# when it is installed, otherwise with a loop of RUNS timed by date +%s%N.
# An empty store is timed too, to separate start-up cost from per-image cost.
# The store lives on a tmpfs.
#
# Environment:
#   RKT               rkt binary to measure (default: go build ./rkt)
#   BENCH_IMAGES      number of images (default 1000)
#   BENCH_LIST_RUNS   timed runs per command (default 20)
#   BENCH_TMPFS_SIZE  size of the tmpfs mounted for the run (default 512M)
#   BENCH_TMPFS       use this existing tmpfs directory instead of mounting
#   BENCH_NO_HYPERFINE  1: use the shell loop even if hyperfine is installed
#   BENCH_KEEP_OUT    directory for the results file (default bench/out)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

count=${BENCH_IMAGES:-1000}
runs=${BENCH_LIST_RUNS:-20}
outdir=${BENCH_KEEP_OUT:-$here/out}
batch=100

bench_tmpfs_setup "${BENCH_TMPFS_SIZE:-512M}"
work=$BENCH_WORK
bench_log "working on tmpfs $work"

bench_find_rkt "$work" || bench_die "no rkt binary to measure (set RKT or make ./rkt build)"

# --- the images -------------------------------------------------------------

t0=$(bench_now_ns)
gen=$work/gen
mkdir -p "$gen/rootfs/etc" "$work/acis"
for ((i = 1; i <= count; i++)); do
	n=$(printf '%04d' "$i")
	printf '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"bench.example.com/list-%s","labels":[{"name":"version","value":"1.%d.0"},{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}]}\n' \
		"$n" "$i" >"$gen/manifest"
	printf 'image %s\n' "$n" >"$gen/rootfs/etc/bench-image"
	tar --owner=0 --group=0 --numeric-owner -C "$gen" -cf "$work/acis/list-$n.aci" manifest rootfs
done
rm -rf "$gen"
bench_log "generated $count ACIs in $(bench_ms "$t0" "$(bench_now_ns)") ms"

# --- the store ----------------------------------------------------------------

rkt_args=(--dir "$work/data" --local-config "$work/conf" --system-config "$work/sysconf")
mkdir -p "$work/conf" "$work/sysconf"

t0=$(bench_now_ns)
mapfile -t acis < <(find "$work/acis" -name '*.aci' | sort)
: >"$work/ids"
for ((i = 0; i < ${#acis[@]}; i += batch)); do
	if ! "$RKT" "${rkt_args[@]}" --insecure-options=image fetch "${acis[@]:i:batch}" \
		>>"$work/ids" 2>"$work/fetch.err"; then
		bench_log "importing images $((i + 1))-$((i + batch)) failed:"
		tail -n 20 "$work/fetch.err" >&2
		exit 1
	fi
done
import_ms=$(bench_ms "$t0" "$(bench_now_ns)")
rm -rf "$work/acis"
imported=$(sort -u "$work/ids" | wc -l)
((imported == count)) || bench_die "rkt fetch printed $imported distinct image IDs, want $count"

listed=$("$RKT" "${rkt_args[@]}" image list --no-legend | wc -l)
((listed == count)) || bench_die "rkt image list shows $listed images, want $count"
json_listed=$("$RKT" "${rkt_args[@]}" image list --format=json |
	python3 -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo "?")
bench_log "imported $count images in $import_ms ms; image list shows $listed (json: $json_listed)"

# --- timing -------------------------------------------------------------------

# time_cmd LABEL CMD... prints "LABEL MEDIAN_MS MIN_MS MAX_MS".
time_cmd() {
	local label=$1 i a b
	shift
	if [[ ${BENCH_NO_HYPERFINE:-0} != 1 ]] && command -v hyperfine >/dev/null && command -v jq >/dev/null; then
		hyperfine --shell=none --warmup 3 --runs "$runs" --export-json "$work/hf.json" \
			--output=null "$(printf '%q ' "$@")" >/dev/null 2>&1 ||
			bench_die "hyperfine failed on: $*"
		jq -r --arg l "$label" \
			'.results[0] | "\($l) \(.median * 1000) \(.min * 1000) \(.max * 1000)"' "$work/hf.json" |
			awk '{ printf "%s %.1f %.1f %.1f\n", $1, $2, $3, $4 }'
		return
	fi
	local ms=()
	for ((i = 0; i < 3; i++)); do "$@" >/dev/null; done
	for ((i = 0; i < runs; i++)); do
		a=$(bench_now_ns)
		"$@" >/dev/null
		b=$(bench_now_ns)
		ms+=("$(bench_ms "$a" "$b")")
	done
	printf '%s %s %s %s\n' "$label" "$(bench_median "${ms[@]}")" \
		"$(printf '%s\n' "${ms[@]}" | sort -g | head -n 1)" "$(bench_max "${ms[@]}")"
}

empty_args=(--dir "$work/empty" --local-config "$work/conf" --system-config "$work/sysconf")
"$RKT" "${empty_args[@]}" image list >/dev/null

timer=loop
if [[ ${BENCH_NO_HYPERFINE:-0} != 1 ]] && command -v hyperfine >/dev/null && command -v jq >/dev/null; then
	timer="hyperfine $(hyperfine --version | awk '{ print $2 }')"
fi
bench_log "timing with $timer, $runs runs each"
{
	time_cmd table "$RKT" "${rkt_args[@]}" image list
	time_cmd json "$RKT" "${rkt_args[@]}" image list --format=json
	time_cmd empty "$RKT" "${empty_args[@]}" image list
} >"$work/times"

peak_kb=$(/usr/bin/time -f %M "$RKT" "${rkt_args[@]}" image list 2>&1 >/dev/null | tail -n 1)

report() {
	local label med min max table
	echo "rkt image list benchmark (bench/image-list.sh)"
	bench_machine
	printf 'store:     %d images (tiny ACIs, distinct names), on tmpfs; import took %s ms\n' "$count" "$import_ms"
	printf 'timer:     %s, %d runs after 3 warm-up runs; ms\n\n' "$timer" "$runs"
	printf '%-34s %8s %8s %8s\n' "" median min max
	while read -r label med min max; do
		case $label in
		table) table=$med label="image list ($count images)" ;;
		json) label="image list --format=json ($count)" ;;
		empty) label="image list (empty store)" ;;
		esac
		printf '%-34s %8s %8s %8s\n' "$label" "$med" "$min" "$max"
	done <"$work/times"
	echo
	printf 'image list (%d images): %s ms   (target < 100 ms)\n' "$count" "$table"
	printf 'peak RSS image list:     %s MB\n' "$(awk -v k="$peak_kb" 'BEGIN { printf "%.1f", k / 1024 }')"
}

mkdir -p "$outdir"
result=$outdir/image-list-$(date +%Y%m%d-%H%M%S).txt
report | tee "$result"
bench_log "results written to $result"
