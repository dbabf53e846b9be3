#!/usr/bin/env bash
# fetch-oci.sh: `rkt fetch docker://` of a ~300 MB image of 5 gzipped layers
# from a local registry, against the floor of doing the same by hand:
#
#   floor = skopeo copy docker://... oci:LAYOUT  +  tar -xzf of each layer
#   rkt   = rkt fetch --insecure-options=http,image docker://...  (fresh data dir)
#
# The registry is Debian's docker-registry on 127.0.0.1 over plain HTTP (no
# TLS and no auth on either side, so both pay the same protocol costs).
# Everything lives on a tmpfs. The report gives median wall times, the ratio
# rkt/floor, and rkt's peak RSS (the largest over the runs).
#
# Environment:
#   RKT               rkt binary to measure (default: go build ./rkt)
#   BENCH_RUNS        rounds (default 3)
#   BENCH_LAYER_MB    size of each of the 5 layers' content in MiB (default 60)
#   BENCH_TMPFS_SIZE  size of the tmpfs mounted for the run (default 4G)
#   BENCH_TMPFS       use this existing tmpfs directory instead of mounting
#   BENCH_KEEP_OUT    directory for the results file (default bench/out)
#
# Needs: bash, coreutils, GNU tar, gzip, jq, skopeo, docker-registry,
# /usr/bin/time; root to mount the tmpfs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

runs=${BENCH_RUNS:-3}
layer_mb=${BENCH_LAYER_MB:-60}
outdir=${BENCH_KEEP_OUT:-$here/out}

for tool in tar gzip jq skopeo docker-registry sha256sum /usr/bin/time; do
	command -v "$tool" >/dev/null || bench_die "missing $tool"
done

bench_tmpfs_setup "${BENCH_TMPFS_SIZE:-4G}"
work=$BENCH_WORK
bench_find_rkt "$work" || bench_die "no rkt binary to measure"

# The image, as an OCI layout: 5 layers, each half random bytes and half
# base64 text (which gzip shrinks), gzipped.
layout=$work/src
mkdir -p "$layout/blobs/sha256"
printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
layers_json='' diffids=''
for i in 1 2 3 4 5; do
	d=$work/gen$i
	mkdir -p "$d/data$i"
	head -c "$((layer_mb * 512 * 1024))" /dev/urandom >"$d/data$i/random.bin"
	head -c "$((layer_mb * 384 * 1024))" /dev/urandom | base64 >"$d/data$i/text.txt"
	tar --owner=0 --group=0 --numeric-owner -C "$d" -cf "$work/layer$i.tar" "data$i"
	rm -rf "$d"
	diff=$(sha256sum <"$work/layer$i.tar" | cut -d' ' -f1)
	gzip -1 -n -c "$work/layer$i.tar" >"$work/layer$i.tgz"
	rm "$work/layer$i.tar"
	dig=$(sha256sum <"$work/layer$i.tgz" | cut -d' ' -f1)
	mv "$work/layer$i.tgz" "$layout/blobs/sha256/$dig"
	size=$(stat -c %s "$layout/blobs/sha256/$dig")
	layers_json+="${layers_json:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$dig\",\"size\":$size}"
	diffids+="${diffids:+,}\"sha256:$diff\""
done
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/data1/random.bin"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' "$diffids" >"$work/config.json"
cdig=$(sha256sum <"$work/config.json" | cut -d' ' -f1)
csize=$(stat -c %s "$work/config.json")
mv "$work/config.json" "$layout/blobs/sha256/$cdig"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' "$cdig" "$csize" "$layers_json" >"$work/manifest.json"
mdig=$(sha256sum <"$work/manifest.json" | cut -d' ' -f1)
msize=$(stat -c %s "$work/manifest.json")
mv "$work/manifest.json" "$layout/blobs/sha256/$mdig"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' "$mdig" "$msize" >"$layout/index.json"
total_mb=$(($(du -sk "$layout" | cut -f1) / 1024))

# The registry.
port=$((20000 + RANDOM % 20000))
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry=$!
trap 'kill "$registry" 2>/dev/null; bench_tmpfs_cleanup' EXIT
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
	sleep 0.1
done
ref=127.0.0.1:$port/bench/app:1
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$layout:1" "docker://$ref" ||
	bench_die "pushing the image failed"

mkdir -p "$work/conf" "$work/sysconf"
floor_ms=() rkt_ms=() rkt_rss=() rkt_cpu=()
for ((r = 1; r <= runs; r++)); do
	rm -rf "$work/floor"
	mkdir -p "$work/floor/x"
	a=$(bench_now_ns)
	skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$ref" "oci:$work/floor/layout:1" ||
		bench_die "skopeo copy failed"
	for blob in $(jq -r '.layers[].digest' "$work/floor/layout/blobs/sha256/$mdig" | sed 's/^sha256://'); do
		tar -xzf "$work/floor/layout/blobs/sha256/$blob" -C "$work/floor/x"
	done
	b=$(bench_now_ns)
	floor_ms+=("$(bench_ms "$a" "$b")")
	rm -rf "$work/floor"

	rm -rf "$work/data"
	a=$(bench_now_ns)
	/usr/bin/time -v -o "$work/time.txt" \
		"$RKT" --dir "$work/data" --local-config "$work/conf" --system-config "$work/sysconf" \
		fetch --insecure-options=http,image "docker://$ref" >"$work/rkt.out" 2>"$work/rkt.err" ||
		bench_die "rkt fetch failed: $(tail -n 5 "$work/rkt.err")"
	b=$(bench_now_ns)
	rkt_ms+=("$(bench_ms "$a" "$b")")
	rkt_rss+=("$(bench_peak_rss_kb "$work/time.txt")")
	rkt_cpu+=("$(bench_cpu_ms "$work/time.txt")")
	rm -rf "$work/data"
	bench_log "round $r: floor ${floor_ms[-1]} ms, rkt ${rkt_ms[-1]} ms, rss ${rkt_rss[-1]} kB"
done

mf=$(bench_median "${floor_ms[@]}")
mr=$(bench_median "${rkt_ms[@]}")
mkdir -p "$outdir"
{
	bench_machine
	printf 'image: 5 layers, %s MiB in the registry\n' "$total_mb"
	printf 'floor (skopeo copy + tar -xzf): %s ms (median of %d)\n' "$mf" "$runs"
	printf 'rkt fetch docker://:           %s ms (median), ratio %s of the floor\n' "$mr" "$(bench_ratio "$mr" "$mf")"
	printf 'rkt peak RSS:                  %s kB (max), CPU %s ms (median)\n' "$(bench_max "${rkt_rss[@]}")" "$(bench_median "${rkt_cpu[@]}")"
} | tee "$outdir/fetch-oci.txt"
