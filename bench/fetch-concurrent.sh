#!/usr/bin/env bash
# fetch-concurrent.sh: N fetches of one image URL started at once (a fleet
# of units starting together), against one fetch alone, into one data dir:
#
#   one   = rkt fetch URL                        (fresh data dir)
#   many  = N x rkt fetch URL, all at once       (fresh data dir)
#
# The image is served over plain HTTP on 127.0.0.1 by python3's http.server
# (fetched with --insecure-options=http, which does not weaken the signature
# check), whose log gives the number of times the image was downloaded.
# Everything lives on a tmpfs. The report gives the median wall times, the
# ratio many/one and the downloads per round; a fetch that waits for another
# one and reuses its image downloads nothing.
#
# Environment:
#   RKT               rkt binary to measure (default: go build ./rkt)
#   BENCH_RUNS        rounds (default 3)
#   BENCH_N           fetches started at once (default 20)
#   BENCH_ACI_MB      size of the image's one random file in MiB (default 100)
#   BENCH_TMPFS_SIZE  size of the tmpfs mounted for the run (default 3G)
#   BENCH_TMPFS       use this existing tmpfs directory instead of mounting
#   BENCH_KEEP_OUT    directory for the results file (default bench/out)
#
# Needs: bash, coreutils, GNU tar, gpg, python3; root to mount the tmpfs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

runs=${BENCH_RUNS:-3}
n=${BENCH_N:-20}
aci_mb=${BENCH_ACI_MB:-100}
outdir=${BENCH_KEEP_OUT:-$here/out}
name=bench.example.com/concurrent

for tool in gpg tar python3; do
	command -v "$tool" >/dev/null || bench_die "missing $tool"
done

bench_tmpfs_setup "${BENCH_TMPFS_SIZE:-3G}"
work=$BENCH_WORK
bench_find_rkt "$work" || bench_die "no rkt binary to measure"

# The image: a manifest and one random file of aci_mb MiB.
mkdir -p "$work/gen/rootfs" "$work/www"
cat >"$work/gen/manifest" <<EOF
{"acKind":"ImageManifest","acVersion":"0.8.11","name":"$name","labels":[{"name":"version","value":"1.0.0"},{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}]}
EOF
head -c "$((aci_mb * 1024 * 1024))" /dev/urandom >"$work/gen/rootfs/big.bin"
tar --owner=0 --group=0 --numeric-owner -C "$work/gen" -cf "$work/www/image.aci" manifest rootfs
rm -rf "$work/gen"
export GNUPGHOME=$work/gnupg
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
	--quick-gen-key 'rkt concurrent fetch benchmark <bench@example.com>' rsa2048 sign never 2>/dev/null
gpg --batch --armor --export >"$work/key.asc"
gpg --batch --quiet --yes --digest-algo SHA512 --armor --detach-sign -o "$work/www/image.aci.asc" "$work/www/image.aci"

mkdir -p "$work/conf" "$work/sysconf"
"$RKT" --dir "$work/trustdata" --local-config "$work/conf" --system-config "$work/sysconf" \
	trust --prefix "$name" --skip-fingerprint-review "$work/key.asc" >/dev/null 2>&1 ||
	bench_die "rkt trust failed"

# The server, on a free port of 127.0.0.1 only.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$work/www" "$port" 2>"$work/http.log" >/dev/null &
server=$!
trap 'kill "$server" 2>/dev/null; bench_tmpfs_cleanup' EXIT
for _ in $(seq 50); do
	python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/image.aci.asc')" 2>/dev/null && break
	sleep 0.1
done
url=http://127.0.0.1:$port/image.aci

downloads() { grep -c 'GET /image.aci HTTP' "$work/http.log" || true; }

fetch() {
	"$RKT" --dir "$1" --local-config "$work/conf" --system-config "$work/sysconf" \
		--insecure-options=http fetch "$url" >/dev/null 2>>"$work/fetch.err"
}

one=() many=() got=()
for r in $(seq "$runs"); do
	rm -rf "$work/data"
	t0=$(bench_now_ns)
	fetch "$work/data" || bench_die "a single fetch failed: $(tail -n 3 "$work/fetch.err")"
	one+=("$(bench_ms "$t0" "$(bench_now_ns)")")

	rm -rf "$work/data"
	before=$(downloads)
	pids=()
	t0=$(bench_now_ns)
	for _ in $(seq "$n"); do
		fetch "$work/data" &
		pids+=($!)
	done
	failed=0
	for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
	many+=("$(bench_ms "$t0" "$(bench_now_ns)")")
	((failed == 0)) || bench_die "$failed of $n concurrent fetches failed: $(tail -n 3 "$work/fetch.err")"
	got+=("$(($(downloads) - before))")
	bench_log "round $r: one ${one[-1]} ms, $n at once ${many[-1]} ms, ${got[-1]} downloads"
done

mone=$(bench_median "${one[@]}")
mmany=$(bench_median "${many[@]}")
mkdir -p "$outdir"
out=$outdir/fetch-concurrent-$(date -u +%Y%m%dT%H%M%SZ).txt
{
	bench_machine
	printf 'image:     %d MiB, served over http on 127.0.0.1\n' "$aci_mb"
	printf 'rounds:    %d\n' "$runs"
	printf 'one fetch:           %s ms (median)\n' "$mone"
	printf '%d fetches at once:  %s ms (median), ratio %s of one\n' "$n" "$mmany" "$(bench_ratio "$mmany" "$mone")"
	printf 'downloads per round of %d: %s\n' "$n" "${got[*]}"
} | tee "$out"
