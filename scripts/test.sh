#!/usr/bin/env bash
# Run the whole test suite, the one CI runs:
#
#   ./scripts/test.sh
#
# 1. build build/bin/rkt              (make)
# 2. lint                             (gofmt, go vet, shellcheck: make lint)
# 3. unit tests of every package      (make check-unit)
# 4. every fuzz target for 30 s       (scripts/fuzz.sh; FUZZTIME to change)
# 5. functional tests as root against build/bin/rkt (make check-functional)
# 6. the demo                         (scripts/demo.sh)
# 7. the pod, isolation, network and systemd suites in a pure cgroup v2 VM
#    with systemd as PID 1 (scripts/vm.sh test; the first run builds the VM
#    image, about 5 to 9 minutes, cached in build/vm/; the suites take about
#    8 minutes on a quiet machine). RKT_VM_TESTS=systemd runs only the
#    systemd suite there; RKT_VM_TESTS=0 leaves the VM out, and says so.
#
# Every step runs even when an earlier one failed (except after a failed
# build); the summary at the end names the failed steps and the exit status
# is 1 if any failed. Without root the functional tests skip themselves and
# the demo is not run; that is reported, not hidden.
set -uo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$(repo_root)" || exit 1
find_go

failed=()
skipped=()

step() {
	local name=$1
	shift
	printf '\n=== %s: %s\n' "$name" "$*" >&2
	if "$@"; then
		printf '=== %s: ok\n' "$name" >&2
		return 0
	fi
	printf '=== %s: FAILED\n' "$name" >&2
	failed+=("$name")
	return 1
}

if step build make; then
	step lint make lint
	step unit make check-unit
	step fuzz ./scripts/fuzz.sh
	if [ "$(id -u)" -eq 0 ]; then
		step functional make check-functional
		step demo env RKT="$PWD/build/bin/rkt" ./scripts/demo.sh
		case "${RKT_VM_TESTS:-all}" in
		0) skipped+=("vm (RKT_VM_TESTS=0: the suites in a pure cgroup v2 VM)") ;;
		systemd) step vm ./scripts/vm.sh test systemd ;;
		*) step vm ./scripts/vm.sh test ;;
		esac
	else
		skipped+=("functional (needs root)" "demo (needs root)" "vm (needs root)")
	fi
fi

printf '\n=== summary\n' >&2
for s in "${skipped[@]}"; do
	printf 'skipped: %s\n' "$s" >&2
done
if [ "${#failed[@]}" -ne 0 ]; then
	printf 'FAILED: %s\n' "${failed[*]}" >&2
	exit 1
fi
if [ "${#skipped[@]}" -ne 0 ]; then
	printf 'passed, with the skipped steps above\n' >&2
	exit 0
fi
printf 'all passed\n' >&2
