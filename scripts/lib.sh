# shellcheck shell=bash
# Helpers shared by the scripts in this directory. Source it, do not run it.

# The system packages a Debian 12 machine needs to build rkt, run its test
# suite and the demo (pod networks need the CNI plugins and iptables; the
# network tests also use iproute2 and nsenter from util-linux; the seccomp
# compiler's differential test builds against libseccomp with cgo; the OCI
# tests push to a docker-registry with skopeo, and compare verdicts with
# skopeo's and podman's; the test VM of scripts/vm.sh
# needs debootstrap, qemu and mkfs.ext4 -d). Go is not among them: Debian 12
# ships Go 1.19 and rkt needs Go >= 1.26 (see find_go).
RKT_DEBIAN_PACKAGES=(
	ca-certificates
	git
	make
	gnupg
	busybox-static
	systemd-container
	tar
	gzip
	xz-utils
	bzip2
	zstd
	time
	iproute2
	iptables
	containernetworking-plugins
	util-linux
	procps
	kmod
	shellcheck
	dbus-daemon
	skopeo
	podman
	gcc
	libc6-dev
	libseccomp-dev
	docker-registry
	apache2-utils
	debootstrap
	qemu-system-x86
	e2fsprogs
)

RKT_MIN_GO_MINOR=26

die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

say() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# repo_root prints the top of the source tree (the parent of scripts/).
repo_root() {
	(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
}

require_root() {
	[ "$(id -u)" -eq 0 ] || die "run me as root (sudo $0 $*)"
}

# install_packages installs the missing ones of RKT_DEBIAN_PACKAGES with
# apt-get. Nothing is downloaded when they are all present already.
install_packages() {
	local missing=() p
	for p in "${RKT_DEBIAN_PACKAGES[@]}"; do
		if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
			missing+=("$p")
		fi
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		say "system packages: all present"
		return 0
	fi
	command -v apt-get >/dev/null 2>&1 ||
		die "apt-get not found; install these packages by hand: ${missing[*]}"
	say "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q || die "apt-get update failed"
	apt-get install -y -q --no-install-recommends "${missing[@]}" ||
		die "apt-get install failed for: ${missing[*]}"
}

# find_go puts a Go >= 1.26 first on PATH (the one on PATH, else
# /usr/local/go/bin) or fails, saying how to get one.
find_go() {
	local go v minor
	for go in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go; do
		if [ -z "$go" ] || [ ! -x "$go" ]; then
			continue
		fi
		v=$(GOTOOLCHAIN=local "$go" env GOVERSION 2>/dev/null) || continue
		case $v in
		go1.*) minor=${v#go1.}; minor=${minor%%.*}; minor=${minor%%[!0-9]*} ;;
		*) continue ;;
		esac
		if [ -n "$minor" ] && [ "$minor" -ge "$RKT_MIN_GO_MINOR" ]; then
			PATH=$(dirname "$go"):$PATH
			export PATH GOTOOLCHAIN=local
			say "go: $go ($v)"
			return 0
		fi
		say "ignoring $go: $v is older than go1.$RKT_MIN_GO_MINOR"
	done
	die "Go >= 1.$RKT_MIN_GO_MINOR is needed, on PATH or at /usr/local/go/bin/go.
  Debian 12's golang package (1.19) is too old. Install Go from https://go.dev/dl/:
    tar -C /usr/local -xzf go1.26.*.linux-amd64.tar.gz"
}
