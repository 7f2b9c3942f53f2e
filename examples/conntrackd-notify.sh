#!/bin/sh
# keepalived notify script for a conntrackd-style daemon: the Debian conntrackd 1.4.7, or ctsync
# through its conntrackd-compatible socket (`ctsync conntrackd` is a drop-in for the client).
#
#   notify_master "/etc/ctsync/conntrackd-notify.sh primary"
#   notify_backup "/etc/ctsync/conntrackd-notify.sh backup"
#   notify_fault  "/etc/ctsync/conntrackd-notify.sh fault"
#
# Optional second argument: the daemon's configuration file (default /etc/conntrackd/conntrackd.conf).
# CONNTRACKD may name the client (default conntrackd; e.g. "ctsync conntrackd").
# The sequence is the one conntrack-tools documents for primary/backup pairs:
#   primary: commit the peer's flows into the kernel, empty both caches, reload the internal
#            cache from the kernel, send it all to the peer;
#   backup:  make sure the daemon runs, purge the kernel's synchronised entries after
#            PurgeTimeout, ask the primary for its flows;
#   fault:   purge after PurgeTimeout.
# A failing step is logged and the next one still runs.

state="$1"
config="${2:-/etc/conntrackd/conntrackd.conf}"
client="${CONNTRACKD:-conntrackd}"
lock="${CONNTRACKD_LOCK:-/var/lock/conntrack.lock}"

step() {
	# $1: option(s) for the client; $2: what it does, for the log
	if ! $client -C "$config" $1 >/dev/null; then
		logger -t conntrack-notify -p daemon.err "$state: $2 failed ($client -C $config $1)"
	fi
}

case "$state" in
primary|master)
	step -c "commit of the external cache"
	step -f "flush of the caches"
	step -R "resync with the kernel table"
	step -B "bulk send"
	;;
backup)
	if ! $client -C "$config" -s >/dev/null 2>&1; then
		# not answering: a crashed daemon leaves its lock file behind and refuses to start
		logger -t conntrack-notify -p daemon.warning "backup: daemon not answering, starting it"
		rm -f "$lock"
		if ! $client -C "$config" -d; then
			logger -t conntrack-notify -p daemon.err "backup: cannot start $client"
			exit 1
		fi
	fi
	step -t "scheduling of the kernel purge"
	step -n "resync request to the peer"
	;;
fault)
	step -t "scheduling of the kernel purge"
	;;
*)
	echo "usage: $0 primary|backup|fault [CONFIG]" >&2
	exit 1
	;;
esac
exit 0
