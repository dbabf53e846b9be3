#!/usr/bin/env bash
# fetch.sh: time `rkt fetch` of a large signed ACI against the floor, the
# same work done by the standard tools one after the other:
#
#   floor = sha512sum ACI  +  gpg --verify ACI.asc ACI  +  tar -xf ACI -C DIR
#   rkt   = rkt --dir DATA fetch ACI      (fresh DATA each run)
#
# Everything (image, keyring, store, extraction target) lives on a tmpfs so
# the disk is out of the picture. Runs alternate floor / rkt / rkt (gzip)
# N times; the report gives medians, the ratio rkt/floor and rkt's peak RSS
# (the largest over the runs, from /usr/bin/time -v).
#
# Environment:
#   RKT               rkt binary to measure (default: go build ./rkt)
#   BENCH_RUNS        repetitions (default 5)
#   BENCH_ACI_MB      uncompressed image size in MiB (default 300)
#   BENCH_BIG_MB      size of the one large random file in MiB (default 100)
#   BENCH_GZIP        1: also time a gzip-compressed copy (default 1)
#   BENCH_TMPFS_SIZE  size of the tmpfs mounted for the run (default 2G)
#   BENCH_TMPFS       use this existing tmpfs directory instead of mounting
#   BENCH_KEEP_OUT    directory for the results file (default bench/out)
#   BENCH_PERF        1: after the timed runs, fetch once more under
#                     `perf record -g` and write the flat and cumulative
#                     profiles next to the results (fetch-<date>-perf.txt)
#
# Needs: bash, coreutils, GNU tar, gzip, gpg, python3, /usr/bin/time; root to
# mount the tmpfs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

runs=${BENCH_RUNS:-5}
aci_mb=${BENCH_ACI_MB:-300}
big_mb=${BENCH_BIG_MB:-100}
want_gzip=${BENCH_GZIP:-1}
outdir=${BENCH_KEEP_OUT:-$here/out}
name=bench.example.com/fetch

for tool in gpg tar gzip sha512sum python3 /usr/bin/time; do
	command -v "$tool" >/dev/null || bench_die "missing $tool"
done
((aci_mb > big_mb)) || bench_die "BENCH_ACI_MB must be larger than BENCH_BIG_MB"

bench_tmpfs_setup "${BENCH_TMPFS_SIZE:-2G}"
work=$BENCH_WORK
bench_log "working on tmpfs $work"

# --- the image -----------------------------------------------------------

# make_aci writes $work/bench.aci: a manifest plus a rootfs holding one
# big_mb MiB random file and small random files of 1-64 KiB, in directories
# of 500, until the tar is about aci_mb MiB. File sizes come from a seeded
# generator, so every run (and every machine) gets the same tree shape; the
# contents are fresh random bytes, so nothing compresses.
make_aci() {
	local gen=$work/gen budget
	mkdir -p "$gen/rootfs/data"
	cat >"$gen/manifest" <<EOF
{"acKind":"ImageManifest","acVersion":"0.8.11","name":"$name","labels":[{"name":"version","value":"1.0.0"},{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}],"annotations":[{"name":"description","value":"rkt fetch benchmark image"}]}
EOF
	head -c "$((big_mb * 1024 * 1024))" /dev/urandom >"$gen/rootfs/data/big.bin"
	budget=$(((aci_mb - big_mb) * 1024 * 1024))
	read -r small_files small_bytes < <(python3 -c '
import os, random, sys
root, budget = sys.argv[1], int(sys.argv[2])
rng = random.Random(1)
n = total = 0
while total < budget:
    size = rng.randint(1024, 64 * 1024)
    d = os.path.join(root, "d%d" % (n // 500))
    if n % 500 == 0:
        os.mkdir(d)
    with open(os.path.join(d, "f%d" % n), "wb") as f:
        f.write(os.urandom(size))
    n += 1
    total += size
print(n, total)
' "$gen/rootfs/data" "$budget")
	[[ -n ${small_files:-} ]] || bench_die "generating the small files"
	tar --sort=name --owner=0 --group=0 --numeric-owner \
		-C "$gen" -cf "$work/bench.aci" manifest rootfs
	rm -rf "$gen"
}

# make_key creates a throwaway keyring on the tmpfs with one signing key,
# exported (armored) to $work/key.asc.
make_key() {
	export GNUPGHOME=$work/gnupg
	mkdir -m 0700 "$GNUPGHOME"
	gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
		--quick-gen-key 'rkt fetch benchmark <bench@example.com>' rsa2048 sign never 2>/dev/null
	gpg --batch --armor --export >"$work/key.asc"
}

sign() {
	gpg --batch --quiet --yes --digest-algo SHA512 --armor --detach-sign -o "$1.asc" "$1"
}

t0=$(bench_now_ns)
make_aci
make_key
sign "$work/bench.aci"
if [[ $want_gzip == 1 ]]; then
	gzip -1 -c "$work/bench.aci" >"$work/bench-gz.aci"
	sign "$work/bench-gz.aci"
fi
aci_bytes=$(stat -c %s "$work/bench.aci")
# rkt's full image ID is "sha512-" and the first 64 hex digits (256 bits)
# of the SHA-512 of the uncompressed tar.
full_hex=$(sha512sum "$work/bench.aci" | awk '{ print $1 }')
want_id=sha512-${full_hex:0:64}
bench_log "generated $((aci_bytes / 1024 / 1024)) MiB ACI ($small_files small files) in $(bench_ms "$t0" "$(bench_now_ns)") ms"

# --- rkt ------------------------------------------------------------------

have_rkt=0
if bench_find_rkt "$work"; then
	have_rkt=1
	mkdir -p "$work/conf" "$work/sysconf"
	if ! "$RKT" --dir "$work/trustdata" --local-config "$work/conf" --system-config "$work/sysconf" \
		trust --prefix "$name" --skip-fingerprint-review "$work/key.asc" >"$work/trust.out" 2>&1; then
		bench_log "rkt trust failed:"
		cat "$work/trust.out" >&2
		have_rkt=0
	fi
	rm -rf "$work/trustdata"
fi

# --- one run of each ------------------------------------------------------

# floor_once runs the three floor commands, each under /usr/bin/time for
# its CPU time, and appends the wall times (ms) and the summed CPU time.
floor_once() {
	local dir=$work/floor-x cpu=$work/floor-cpu.txt a b c d
	local tm=(/usr/bin/time -f '%U %S' -a -o "$cpu")
	mkdir "$dir"
	: >"$cpu"
	a=$(bench_now_ns)
	"${tm[@]}" sha512sum "$work/bench.aci" >/dev/null
	b=$(bench_now_ns)
	"${tm[@]}" gpg --batch --verify "$work/bench.aci.asc" "$work/bench.aci" 2>"$work/gpg.err" ||
		{ cat "$work/gpg.err" >&2; bench_die "gpg --verify failed"; }
	c=$(bench_now_ns)
	"${tm[@]}" tar -xf "$work/bench.aci" -C "$dir"
	d=$(bench_now_ns)
	floor_ms+=("$(bench_ms "$a" "$d")")
	sha_ms+=("$(bench_ms "$a" "$b")")
	gpg_ms+=("$(bench_ms "$b" "$c")")
	tar_ms+=("$(bench_ms "$c" "$d")")
	floor_cpu+=("$(bench_cpu_ms "$cpu")")
	rm -rf "$dir"
}

# rkt_once ACI TIMES RSS CPU: fetch ACI into a fresh data dir; append the
# wall time (ms), the peak RSS (kB) and the CPU time (ms) to the arrays
# named TIMES, RSS and CPU.
rkt_once() {
	local aci=$1 data=$work/data a b got
	local -n times=$2 rss=$3 cpu=$4
	rm -rf "$data"
	a=$(bench_now_ns)
	if ! /usr/bin/time -v -o "$work/time.txt" \
		"$RKT" --dir "$data" --local-config "$work/conf" --system-config "$work/sysconf" \
		fetch --full "$aci" >"$work/rkt.out" 2>"$work/rkt.err"; then
		b=$(bench_now_ns)
		bench_log "rkt fetch $aci failed:"
		cat "$work/rkt.err" >&2
		return 1
	fi
	b=$(bench_now_ns)
	got=$(cat "$work/rkt.out")
	if [[ $got != "$want_id" ]]; then
		bench_log "rkt fetch $aci printed ${got:-nothing}, want $want_id"
		return 1
	fi
	times+=("$(bench_ms "$a" "$b")")
	rss+=("$(bench_peak_rss_kb "$work/time.txt")")
	cpu+=("$(bench_cpu_ms "$work/time.txt")")
	rm -rf "$data"
}

floor_ms=() sha_ms=() gpg_ms=() tar_ms=() floor_cpu=()
rkt_ms=() rkt_rss=() rkt_cpu=() gz_ms=() gz_rss=() gz_cpu=()
rkt_err=
for ((i = 1; i <= runs; i++)); do
	bench_log "run $i/$runs"
	floor_once
	if ((have_rkt)); then
		if ! rkt_once "$work/bench.aci" rkt_ms rkt_rss rkt_cpu; then
			rkt_err=$(head -n 5 "$work/rkt.err")
			have_rkt=0
			continue
		fi
		if [[ $want_gzip == 1 ]] && ! rkt_once "$work/bench-gz.aci" gz_ms gz_rss gz_cpu; then
			bench_log "gzip variant failed; timing the uncompressed ACI only"
			want_gzip=0
			gz_ms=() gz_rss=() gz_cpu=()
		fi
	fi
done

# --- report ---------------------------------------------------------------

report() {
	local floor rkt gz
	floor=$(bench_median "${floor_ms[@]}")
	echo "rkt fetch benchmark (bench/fetch.sh)"
	bench_machine
	printf 'image:     %s, %d bytes uncompressed: 1 x %d MiB + %d files of 1-64 KiB (%d bytes)\n' \
		"$name" "$aci_bytes" "$big_mb" "$small_files" "$small_bytes"
	printf '           signed with gpg, RSA 2048, SHA512, armored detached; all on tmpfs\n'
	printf 'runs:      %d, alternating; times are medians in ms (all runs in brackets)\n' "$runs"
	printf '           wall = elapsed; cpu = user+system of every process involved\n\n'
	printf '%-26s %10s   %s\n' "floor (sum of the three)" "$floor" "[${floor_ms[*]}]"
	printf '%-26s %10s   %s\n' "  sha512sum" "$(bench_median "${sha_ms[@]}")" "[${sha_ms[*]}]"
	printf '%-26s %10s   %s\n' "  gpg --verify" "$(bench_median "${gpg_ms[@]}")" "[${gpg_ms[*]}]"
	printf '%-26s %10s   %s\n' "  tar -xf" "$(bench_median "${tar_ms[@]}")" "[${tar_ms[*]}]"
	printf '%-26s %10s   %s\n' "floor cpu" "$(bench_median "${floor_cpu[@]}")" "[${floor_cpu[*]}]"
	if ((${#rkt_ms[@]})); then
		rkt=$(bench_median "${rkt_ms[@]}")
		printf '%-26s %10s   %s\n' "rkt fetch (tar)" "$rkt" "[${rkt_ms[*]}]"
		printf '%-26s %10s   %s\n' "rkt fetch (tar) cpu" "$(bench_median "${rkt_cpu[@]}")" "[${rkt_cpu[*]}]"
		if ((${#gz_ms[@]})); then
			gz=$(bench_median "${gz_ms[@]}")
			printf '%-26s %10s   %s\n' "rkt fetch (gzip -1)" "$gz" "[${gz_ms[*]}]"
			printf '%-26s %10s   %s\n' "rkt fetch (gzip -1) cpu" "$(bench_median "${gz_cpu[@]}")" "[${gz_cpu[*]}]"
		fi
		echo
		printf 'ratio rkt/floor:           %s   (target <= 0.60)\n' "$(bench_ratio "$rkt" "$floor")"
		printf 'ratio rkt/floor, cpu:      %s\n' \
			"$(bench_ratio "$(bench_median "${rkt_cpu[@]}")" "$(bench_median "${floor_cpu[@]}")")"
		if [[ -n ${gz:-} ]]; then
			printf 'ratio rkt(gzip)/floor:     %s\n' "$(bench_ratio "$gz" "$floor")"
		fi
		printf 'peak RSS rkt fetch:        %s MB   (max over runs; target < 64 MB)\n' \
			"$(awk -v k="$(bench_max "${rkt_rss[@]}")" 'BEGIN { printf "%.1f", k / 1024 }')"
		if ((${#gz_rss[@]})); then
			printf 'peak RSS rkt fetch (gzip): %s MB\n' \
				"$(awk -v k="$(bench_max "${gz_rss[@]}")" 'BEGIN { printf "%.1f", k / 1024 }')"
		fi
	elif [[ -n $rkt_err ]]; then
		printf '\nrkt fetch: failed:\n%s\n' "$rkt_err"
	else
		printf '\nrkt fetch: not measured (no rkt binary)\n'
	fi
}

# profile records one more uncompressed fetch under perf and writes where
# the CPU time went: self time by symbol, then time including callees.
profile() {
	local data=$work/data
	rm -rf "$data"
	perf record -q -F 1999 -g -o "$work/perf.data" -- \
		"$RKT" --dir "$data" --local-config "$work/conf" --system-config "$work/sysconf" \
		fetch "$work/bench.aci" >/dev/null 2>"$work/perf.err" ||
		{ cat "$work/perf.err" >&2; return 1; }
	echo "perf profile of one rkt fetch (uncompressed, $aci_bytes bytes)"
	echo
	echo "== self time by symbol"
	perf report -i "$work/perf.data" --stdio --no-children --sort dso,symbol -g none \
		--percent-limit 0.5 2>/dev/null | grep -v '^#' | sed -e '/^$/d' -e 's/ *- *- *$//'
	echo
	echo "== wall-clock span of each phase (first and last sample, s from start)"
	perf script -i "$work/perf.data" -F time,ip,sym 2>/dev/null | awk '
		BEGIN {
			n = split("fetch.copyHashing tarsafe.Prehash fetch.decompressInto tarsafe.Extract store.(*Ingest).Write store.(*Ingest).Finish store.(*Ingest).Commit tree.Hash tree.(*Store).Install trust.(*Keystore).Verify", names, " ")
		}
		/^ *[0-9]+\.[0-9]+:/ { t = $1; sub(":", "", t); if (start == "") start = t; now = t; next }
		{
			for (i = 1; i <= n; i++)
				if (index($0, names[i]) && seen[i] != now) {
					if (!(i in first)) first[i] = now
					last[i] = now; seen[i] = now; count[i]++
				}
		}
		END {
			printf "  %-28s %8.3f s\n", "whole run", now - start
			for (i = 1; i <= n; i++)
				if (i in first)
					printf "  %-28s %8.3f - %.3f  (%d samples)\n", names[i], first[i] - start, last[i] - start, count[i]
				else
					printf "  %-28s not sampled\n", names[i]
		}'
	echo
	echo "== time including callees"
	perf report -i "$work/perf.data" --stdio --children --sort symbol -g none \
		--percent-limit 2 2>/dev/null | grep -v '^#' | sed -e '/^$/d' -e 's/ *- *- *$//'
	rm -rf "$data"
}

mkdir -p "$outdir"
stamp=$(date +%Y%m%d-%H%M%S)
result=$outdir/fetch-$stamp.txt
report | tee "$result"
bench_log "results written to $result"
if [[ ${BENCH_PERF:-0} == 1 && ${#rkt_ms[@]} -gt 0 ]]; then
	command -v perf >/dev/null || bench_die "BENCH_PERF=1 needs perf"
	profile >"$outdir/fetch-$stamp-perf.txt"
	bench_log "profile written to $outdir/fetch-$stamp-perf.txt"
fi
