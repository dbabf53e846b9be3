#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for rkt, build it, and run the demo.
#
#   ./scripts/setup-and-demo.sh
#
# Installs the missing system packages with apt-get, checks for Go >= 1.26
# (on PATH or in /usr/local/go), runs `make`, then scripts/demo.sh. Nothing
# is written outside the source tree except by apt-get: the demo keeps its
# data and config dirs under build/demo.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root "$@"
cd "$(repo_root)"
install_packages
find_go

say "building rkt"
make
RKT=$PWD/build/bin/rkt ./scripts/demo.sh
