#!/bin/sh
# Create rkt's data and configuration directories with the owners and modes
# of tmpfiles.d/rkt.conf, for machines that do not run systemd-tmpfiles:
#
#   setup-data-dir.sh [DATA_DIR [LOCAL_CONFIG_DIR]]
#
# DATA_DIR defaults to /var/lib/rkt, LOCAL_CONFIG_DIR to /etc/rkt. The groups
# rkt and rkt-admin are created when missing. Existing directories and files
# keep their contents; only their owner and mode are set. Run as root.
set -eu

data=${1:-/var/lib/rkt}
conf=${2:-/etc/rkt}

if [ "$(id -u)" -ne 0 ]; then
	echo "setup-data-dir.sh: run me as root" >&2
	exit 1
fi

for g in rkt rkt-admin; do
	if ! getent group "$g" >/dev/null 2>&1; then
		groupadd --force --system "$g"
	fi
done

# dir MODE GROUP PATH
dir() {
	mkdir -p "$3"
	chown "root:$2" "$3"
	chmod "$1" "$3"
}

# file MODE GROUP PATH (created empty when missing)
file() {
	[ -e "$3" ] || : >"$3"
	chown "root:$2" "$3"
	chmod "$1" "$3"
}

dir 2750 rkt "$data"
dir 2770 rkt "$data/tmp"
dir 2770 rkt "$data/locks"
dir 2770 rkt "$data/cas"
file 0660 rkt "$data/cas/.lock"
dir 2770 rkt "$data/cas/db"
file 0660 rkt "$data/cas/db/index.db"
for d in blob imageManifest imagelocks commits downloadlocks partial; do
	dir 2770 rkt "$data/cas/$d"
done
for d in tree treestorelocks; do
	dir 2700 rkt "$data/cas/$d"
done
dir 2750 rkt "$data/pods"
for d in embryo prepare prepared run exited-garbage garbage; do
	dir 2750 rkt "$data/pods/$d"
done

dir 2775 rkt-admin "$conf"
dir 2775 rkt-admin "$conf/trustedkeys"
dir 2775 rkt-admin "$conf/trustedkeys/root.d"
dir 2775 rkt-admin "$conf/trustedkeys/prefix.d"
