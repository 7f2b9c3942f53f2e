#!/bin/sh
# Installs what ctsync's lab, tests and demo need on Debian 12 (as root), then the npm packages.
# Debian's service start-up is held back while installing: the lab starts its own daemons.
set -eu
cd "$(dirname "$0")/.."
PKGS="iproute2 nftables conntrack conntrackd keepalived libbpf1 iputils-ping iputils-arping tcpdump tmux util-linux procps systemd binutils"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ ! -d node_modules/koffi ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
