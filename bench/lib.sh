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
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# bench_cleanup runs on exit: the cgroup of bench_cgroup_enter, then the
# work dir of bench_tmpfs_setup.
bench_cleanup() {
	bench_cgroup_leave
	bench_tmpfs_cleanup
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

# bench_pod_setup prepares a pod benchmark in BENCH_WORK: the busybox
# image (bench_busybox_aci), imported by $RKT when set into the data dir
# BENCH_DATA (unsigned: the signature check is not what is measured, and
# every run finds the image in the store), BENCH_OUT for the results, and
# the bench cgroup every contestant starts in (bench_cgroup_enter).
bench_pod_setup() {
	bench_busybox_aci "$BENCH_WORK"
	BENCH_DATA=$BENCH_WORK/data
	if [[ -n ${RKT:-} ]]; then
		"$RKT" --dir="$BENCH_DATA" --insecure-options=image fetch "$BENCH_WORK/busybox.aci" >/dev/null
	fi
	BENCH_OUT=$BENCH_WORK/results
	mkdir -p "$BENCH_OUT"
	bench_cgroup_enter
}

# bench_cgroup_enter moves this shell, and so every contestant it starts,
# into a fresh cgroup below its own in the hierarchies systemd-nspawn
# writes: the named systemd one and the cgroup v2 one, where mounted (on
# a hybrid host both). Bare `systemd-nspawn --keep-unit --register=no`
# makes its payload/ and supervisor/ cgroups in the one it starts in, as
# rkt's nspawn stage1 makes them in the pod's own, and nothing removes
# them: here they go with the bench cgroup when the script exits
# (bench_cleanup), after the shell moved back where it came from. The
# resource controllers' hierarchies are left alone.
BENCH_CGROUPS=()
bench_cgroup_enter() {
	local mnt rel dir
	while read -r mnt rel; do
		[[ -n $mnt && -d $mnt$rel ]] || continue
		dir=$mnt${rel%/}/rkt-bench.$$
		mkdir "$dir" || bench_die "creating the bench cgroup $dir"
		BENCH_CGROUPS+=("$mnt$rel" "$dir")
		echo $$ >"$dir/cgroup.procs" || bench_die "entering the bench cgroup $dir"
	done < <(bench_cgroup_homes)
}

# bench_cgroup_homes prints "MOUNTPOINT PATH" for the named systemd
# hierarchy and the cgroup v2 one, with this shell's cgroup in each.
bench_cgroup_homes() {
	local v2 sd
	v2=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
	sd=$(findmnt -n -t cgroup -O name=systemd -o TARGET | head -n 1)
	if [[ -n $sd ]]; then
		echo "$sd $(awk -F: '$2 == "name=systemd" { print $3 }' /proc/self/cgroup)"
	fi
	if [[ -n $v2 ]]; then
		echo "$v2 $(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)"
	fi
}

bench_cgroup_leave() {
	local i origin dir
	for ((i = 0; i + 1 < ${#BENCH_CGROUPS[@]}; i += 2)); do
		origin=${BENCH_CGROUPS[i]}
		dir=${BENCH_CGROUPS[i + 1]}
		echo $$ >"$origin/cgroup.procs" 2>/dev/null || true
		# Deepest first: nspawn's payload/ and supervisor/, a pod's tree
		# that gc did not remove, then the bench cgroup itself.
		find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null ||
			bench_log "could not remove the bench cgroup $dir (a process still in it?)"
	done
	BENCH_CGROUPS=()
}

# Interleaved contestants: bench_contestant registers NAME with a command
# PREP run untimed before each of its runs ("" for none) and the timed
# command CMD; bench_rounds runs WARMUP untimed and RUNS timed rounds, each
# contestant once per round in the order registered, so that a machine
# whose load drifts during the run (a shared one) weighs on all of them
# alike; bench_result NAME prints its median in ms, or n/a. Commands are
# plain words (no quoting): a command that needs a shell goes in a script.
# Wall times go to BENCH_OUT/NAME.ms, one per run, and the last run's
# output to BENCH_OUT/NAME.log; a contestant that fails once is left out.
BENCH_NAMES=()
declare -A BENCH_CMDS BENCH_PREPS BENCH_FAILED
bench_contestant() {
	local name=$1 prep=$2 cmd=$3
	if [[ " ${BENCH_SKIP:-} " == *" $name "* ]]; then
		bench_log "skipping $name"
		return 0
	fi
	BENCH_NAMES+=("$name")
	BENCH_CMDS[$name]=$cmd
	BENCH_PREPS[$name]=$prep
	: >"$BENCH_OUT/$name.ms"
}

bench_rounds() {
	local warmup=$1 runs=$2 round n t0 t1
	bench_log "running ${#BENCH_NAMES[@]} contestants, $warmup warm-up + $runs timed rounds"
	for ((round = 1; round <= warmup + runs; round++)); do
		for n in "${BENCH_NAMES[@]}"; do
			[[ -z ${BENCH_FAILED[$n]:-} ]] || continue
			if [[ -n ${BENCH_PREPS[$n]} ]]; then
				# shellcheck disable=SC2086 # plain words
				${BENCH_PREPS[$n]} >/dev/null 2>&1 || true
			fi
			t0=$(bench_now_ns)
			# shellcheck disable=SC2086 # plain words
			if ! ${BENCH_CMDS[$n]} >"$BENCH_OUT/$n.log" 2>&1; then
				bench_log "$n failed; leaving it out:"
				tail -n 20 "$BENCH_OUT/$n.log" >&2
				BENCH_FAILED[$n]=1
				continue
			fi
			t1=$(bench_now_ns)
			if ((round > warmup)); then
				bench_ms "$t0" "$t1" >>"$BENCH_OUT/$n.ms"
			fi
		done
	done
}

bench_result() {
	if [[ -z ${BENCH_FAILED[$1]:-} && -s $BENCH_OUT/$1.ms ]]; then
		# shellcheck disable=SC2046 # one number per line
		bench_median $(cat "$BENCH_OUT/$1.ms")
	else
		echo n/a
	fi
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
