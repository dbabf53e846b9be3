#!/usr/bin/env bash
# Run the Go fuzz targets (func FuzzXxx in *_test.go), each for a while:
#
#   ./scripts/fuzz.sh                    every target, 30 s each
#   FUZZTIME=10m ./scripts/fuzz.sh       every target, 10 minutes each
#   ./scripts/fuzz.sh FuzzCheck FuzzParseKey    only these targets
#
# Settings (environment):
#   FUZZTIME          time per target, or a number of runs ("5000x"); 30s
#   FUZZJOBS          targets fuzzed at once; 2
#   FUZZPARALLEL      fuzzing workers per target (go test -parallel); 1
#   FUZZMINIMIZETIME  minimization budget per new input (-fuzzminimizetime);
#                     200x: Go's default of 60 s per new input would eat a
#                     short run whole
#   TMPDIR            where the tests write; unset: /dev/shm if it has 1 GiB
#
# The targets are found by name in the source, so a new one runs without
# being listed here. `go test -fuzz` takes one package and one target at a
# time: each target is its own go test run. Plain `go test ./...` runs
# every target's seed corpus (f.Add and testdata/fuzz/<Target>/) only.
#
# A failure prints the target's output and leaves the failing input in
# <package>/testdata/fuzz/<Target>/: commit it with the fix, as a
# regression seed. The corpus grown while fuzzing stays in the Go cache
# (go env GOCACHE), outside the tree. Exit status 1 if any target failed.
set -uo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$(repo_root)" || exit 1
find_go

FUZZTIME=${FUZZTIME:-30s}
FUZZJOBS=${FUZZJOBS:-2}
FUZZPARALLEL=${FUZZPARALLEL:-1}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-200x}

# Targets that write files (FuzzExtract makes a tree per input) run an
# order of magnitude faster on a tmpfs: use /dev/shm as TMPDIR when
# TMPDIR is not set and /dev/shm has 1 GiB free.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] &&
	[ "$(df -P -k /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')" -ge 1048576 ] 2>/dev/null; then
	export TMPDIR=/dev/shm
fi

# targets prints "DIR NAME" for every fuzz target of the tree, sorted.
targets() {
	git ls-files -z --cached --others --exclude-standard -- '*_test.go' |
		xargs -0 grep -H -o '^func Fuzz[A-Za-z0-9_]*(f \*testing\.F)' |
		sed -e 's,^\(.*\)/[^/]*_test\.go:func \(Fuzz[A-Za-z0-9_]*\)(.*,\1 \2,' |
		sort
}

mapfile -t all < <(targets)
if [ "${#all[@]}" -eq 0 ]; then
	die "no fuzz targets found"
fi

selected=()
if [ "$#" -eq 0 ]; then
	selected=("${all[@]}")
else
	for want in "$@"; do
		found=
		for t in "${all[@]}"; do
			if [ "${t#* }" = "$want" ]; then
				selected+=("$t")
				found=1
			fi
		done
		[ -n "$found" ] || die "no fuzz target named $want (have: $(printf '%s ' "${all[@]#* }"))"
	done
fi

logs=$(mktemp -d) || die "mktemp failed"
trap 'rm -rf "$logs"' EXIT

# fuzz_one runs one target, its output into its log; the status file says
# how it ended.
#
# Go's fuzzing engine sometimes ends a run that found nothing with "context
# deadline exceeded" when its time is up on a loaded machine: no failing
# input is written, only the deadline is reported. Such a run is repeated
# once, and says so; a run that wrote a failing input is never repeated.
fuzz_one() {
	local dir=$1 name=$2 log=$logs/$3 rc attempt
	for attempt in 1 2; do
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" \
			-fuzzminimizetime "$FUZZMINIMIZETIME" -parallel "$FUZZPARALLEL" "./$dir" >>"$log.out" 2>&1
		rc=$?
		if [ "$rc" -eq 0 ] || [ "$attempt" -eq 2 ] ||
			! grep -q 'context deadline exceeded' "$log.out" ||
			grep -q 'Failing input written to' "$log.out"; then
			break
		fi
		echo "fuzz.sh: the engine reported its own deadline and no failing input; running $name once more" >>"$log.out"
	done
	echo "$rc" >"$log.status"
}

say "${#selected[@]} targets, $FUZZTIME each, $FUZZJOBS at a time"
failed=()
report() {
	local i=$1 dir=${selected[$1]% *} name=${selected[$1]#* }
	if [ "$(cat "$logs/$i.status")" -eq 0 ]; then
		local again=
		grep -q 'running .* once more' "$logs/$i.out" && again=", on a second run after the engine's own deadline error"
		say "ok      $dir $name ($(grep -o 'execs: [0-9]*' "$logs/$i.out" | tail -n 1)$again)"
	else
		say "FAILED  $dir $name"
		cat "$logs/$i.out" >&2
		failed+=("$dir:$name")
	fi
}

running=()
for i in "${!selected[@]}"; do
	if [ "${#running[@]}" -ge "$FUZZJOBS" ]; then
		wait "${running[0]%:*}"
		report "${running[0]#*:}"
		running=("${running[@]:1}")
	fi
	fuzz_one "${selected[$i]% *}" "${selected[$i]#* }" "$i" &
	running+=("$!:$i")
done
for r in "${running[@]}"; do
	wait "${r%:*}"
	report "${r#*:}"
done

if [ "${#failed[@]}" -ne 0 ]; then
	say "failed: ${failed[*]}"
	exit 1
fi
say "all ${#selected[@]} targets passed"
