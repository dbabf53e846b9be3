#!/usr/bin/env bash
# A walk through signed images with rkt, end to end, on this machine:
#
#   ./scripts/demo.sh            (or: make demo)
#   ./scripts/demo.sh --clean         remove what the demo left in build/demo
#
# 1. build a tiny ACI, example.com/hello: a manifest and a rootfs holding a
#    static busybox; its app runs `/bin/busybox echo hello`
# 2. make an OpenPGP key in a throw-away GNUPGHOME and sign the ACI
#    (armored, detached, SHA-512)
# 3. trust the key for the prefix example.com/hello, then list the trust
# 4. fetch the image (the signature is checked), list, cat-manifest, render
# 5. check the signature the way CI does, then see a tampered copy refused
# 6. run the image in a pod, when this build of rkt has `rkt run`
#
# Everything lives under build/demo: rkt runs with its own --dir,
# --local-config and --system-config there, and never touches /var/lib/rkt,
# /etc/rkt or /usr/lib/rkt. The rkt binary is $RKT, else build/bin/rkt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO=$ROOT/build/demo
RKT=${RKT:-$ROOT/build/bin/rkt}
NAME=example.com/hello
VERSION=0.0.1

die() {
	printf 'demo: error: %s\n' "$*" >&2
	exit 1
}

# step prints a heading for what comes next.
step() {
	if [ -t 2 ]; then
		printf '\n\033[1m==> %s\033[0m\n' "$*" >&2
	else
		printf '\n==> %s\n' "$*" >&2
	fi
}

# show prints a command, then runs it.
show() {
	printf '$ %s\n' "$*" >&2
	"$@"
}

# rkt runs the binary against the demo's own data and config dirs.
rkt() {
	"$RKT" --dir="$DEMO/data" --local-config="$DEMO/etc-rkt" --system-config="$DEMO/usr-lib-rkt" "$@"
}

# clean removes build/demo. Once pods run, rkt gc unmounts what they left
# before anything is deleted.
clean() {
	[ -d "$DEMO" ] || return 0
	if [ -x "$RKT" ] && [ -d "$DEMO/data/pods" ] && "$RKT" help gc >/dev/null 2>&1; then
		rkt gc --grace-period=0s >/dev/null 2>&1 || true
	fi
	if grep -q " $DEMO/" /proc/self/mounts 2>/dev/null; then
		die "$DEMO still has mounts; unmount them (rkt gc) before removing it"
	fi
	rm -rf "$DEMO"
}

case ${1:-} in
--clean)
	clean
	exit 0
	;;
"") ;;
*) die "usage: $0 [--clean]" ;;
esac

[ -x "$RKT" ] || die "$RKT not found: build it first (make)"
for tool in gpg tar sha512sum; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (Debian: apt-get install gnupg tar coreutils)"
done

# A statically linked busybox, so that the image needs nothing else.
busybox=
for b in /bin/busybox /usr/bin/busybox "$(command -v busybox 2>/dev/null || true)"; do
	if [ -z "$b" ] || [ ! -x "$b" ]; then
		continue
	fi
	# ldd exits 1 for a static binary: look at what it says, not its status.
	case $(LC_ALL=C ldd "$b" 2>&1 || true) in
	*"not a dynamic executable"* | *"statically linked"*)
		busybox=$b
		break
		;;
	esac
done
[ -n "$busybox" ] || die "no static busybox found (Debian: apt-get install busybox-static)"

case $(uname -m) in
x86_64) arch=amd64 ;;
aarch64) arch=aarch64 ;;
i?86) arch=i386 ;;
armv7l) arch=armv7l ;;
ppc64le) arch=ppc64le ;;
s390x) arch=s390x ;;
*) die "unsupported machine $(uname -m)" ;;
esac

clean
mkdir -p "$DEMO/aci/rootfs/bin" "$DEMO/etc-rkt" "$DEMO/usr-lib-rkt"
GNUPGHOME=$(mktemp -d "${TMPDIR:-/tmp}/rkt-demo-gnupg.XXXXXX")
export GNUPGHOME
trap 'gpgconf --kill gpg-agent >/dev/null 2>&1 || true; rm -rf "$GNUPGHOME"' EXIT
cd "$DEMO"

step "1. Build the ACI $NAME:$VERSION (manifest + rootfs with a static busybox)"
cp "$busybox" aci/rootfs/bin/busybox
cat >aci/manifest <<EOF
{
    "acKind": "ImageManifest",
    "acVersion": "0.8.11",
    "name": "$NAME",
    "labels": [
        {"name": "version", "value": "$VERSION"},
        {"name": "os", "value": "linux"},
        {"name": "arch", "value": "$arch"}
    ],
    "app": {
        "exec": ["/bin/busybox", "echo", "hello"],
        "user": "0",
        "group": "0"
    }
}
EOF
show tar --numeric-owner --owner=0 --group=0 -C aci -cf hello.aci manifest rootfs
show tar -tvf hello.aci

step "2. Make a signing key (no passphrase, throw-away GNUPGHOME) and sign the ACI"
show gpg --batch --quiet --gen-key <<EOF
%no-protection
Key-Type: RSA
Key-Length: 3072
Key-Usage: sign
Name-Real: Example Hello Signer
Name-Email: hello@example.com
Expire-Date: 1y
%commit
EOF
show gpg --batch --armor --detach-sign --digest-algo SHA512 --output hello.aci.asc hello.aci
show gpg --batch --armor --output key.asc --export hello@example.com
show gpg --batch --verify hello.aci.asc hello.aci

step "3. Trust the key for the prefix $NAME (written under $DEMO/etc-rkt)"
show rkt trust --prefix "$NAME" --skip-fingerprint-review key.asc
show rkt trust --list
find etc-rkt -type f | sed 's/^/  /'

step "4. Fetch the image: rkt checks hello.aci.asc against the keys trusted for $NAME"
id=$(show rkt fetch --full hello.aci)
printf '%s\n' "$id"
expected=sha512-$(sha512sum hello.aci | cut -c1-64)
printf 'the image ID is the SHA-512 of the uncompressed tar: %s\n' "$expected" >&2
[ "$id" = "$expected" ] || die "rkt fetch printed $id, expected $expected"
show rkt image list
show rkt image cat-manifest --pretty-print "$NAME"
show rkt image render --overwrite "$NAME" rendered
show ls -l rendered rendered/rootfs/bin
if [ "$(id -u)" -eq 0 ]; then
	printf 'the rendered rootfs works on its own:\n' >&2
	show chroot rendered/rootfs /bin/busybox echo hello
fi

step "5. Check the signature as CI would: no store, no root, only the trust dirs"
show rkt image check-signature hello.aci
show rkt image check-signature --format=json hello.aci
cp hello.aci tampered.aci
cp hello.aci.asc tampered.aci.asc
# Change bytes inside busybox, past every tar header: the tar stays valid,
# only the signature check can catch it.
printf 'tampered' | dd of=tampered.aci bs=1 seek=100000 conv=notrunc status=none
printf '\nA tampered copy must be refused (exit status 254):\n' >&2
rc=0
show rkt image check-signature tampered.aci || rc=$?
[ "$rc" -eq 254 ] || die "check-signature of a tampered image exited $rc, expected 254"
rc=0
show rkt fetch tampered.aci || rc=$?
[ "$rc" -eq 254 ] || die "fetch of a tampered image exited $rc, expected 254"
printf 'refused as expected; the store still holds only the signed image:\n' >&2
show rkt image list

if "$RKT" help 2>/dev/null | grep -qE '^  run '; then
	# rkt finds its stage1 images beside itself (a build) or in its stage1
	# images directory (an install: PREFIX/lib/rkt/stage1-images).
	stage1_dir=$(dirname "$RKT")
	if [ ! -f "$stage1_dir/stage1-nspawn.aci" ] && [ -d "$stage1_dir/../lib/rkt/stage1-images" ]; then
		stage1_dir=$(cd "$stage1_dir/../lib/rkt/stage1-images" && pwd)
	fi
	step "6. Run the signed image in a pod (nspawn stage1: $stage1_dir/stage1-nspawn.aci)"
	[ "$(id -u)" -eq 0 ] || die "rkt run needs root: sudo $0"
	# The image is in the store (step 4) and verified: no fetch here.
	out=$(show rkt run --pull-policy=never --uuid-file-save="$DEMO/hello.uuid" "$NAME:$VERSION")
	printf '%s\n' "$out"
	case $out in
	*hello*) ;;
	*) die "the pod did not print hello" ;;
	esac
	show rkt status "$(cat "$DEMO/hello.uuid")"
	show rkt list
	printf '\nrkt run exits with the status of the first app that failed:\n' >&2
	rc=0
	show rkt run --pull-policy=never "$NAME:$VERSION" --exec=/bin/busybox -- sh -c 'echo about to exit 3; exit 3' --- || rc=$?
	[ "$rc" -eq 3 ] || die "rkt run of an app exiting 3 exited $rc"
	printf 'exit status %s\n' "$rc" >&2
	if [ -f "$stage1_dir/stage1-fly.aci" ]; then
		printf '\nThe same image with the fly stage1 (chroot, host network, one app):\n' >&2
		show rkt run --pull-policy=never --stage1-path="$stage1_dir/stage1-fly.aci" "$NAME:$VERSION"
	fi
	printf '\nExited pods stay until gc removes them, with their mounts:\n' >&2
	show rkt gc --grace-period=0s
	show rkt list
fi

step "Done. Everything is under $DEMO; remove it with: $0 --clean"
