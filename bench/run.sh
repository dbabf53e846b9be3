#!/usr/bin/env bash
# run.sh: build rkt once and run every benchmark against that binary:
# fetch.sh (rkt fetch against the sha512sum+gpg+tar floor) and image-list.sh
# (rkt image list on 1,000 images). Results go to stdout and bench/out/.
# Set RKT to measure an existing binary instead of building one; the other
# BENCH_* variables are passed through (see each script's header).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

if [[ -z ${RKT:-} ]]; then
	bindir=$(mktemp -d "${TMPDIR:-/tmp}/rkt-bench-bin.XXXXXX")
	trap 'rm -rf "$bindir"' EXIT
	if bench_find_rkt "$bindir"; then
		# Built here: the scripts report it as built from this tree.
		export RKT RKT_GIVEN=
	fi
fi

status=0
"$here/fetch.sh" || status=$?
echo
if [[ -n ${RKT:-} ]]; then
	"$here/image-list.sh" || status=$?
else
	bench_log "skipping image-list.sh: no rkt binary"
fi
exit "$status"
