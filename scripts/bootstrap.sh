#!/usr/bin/env bash
# Installs what the demo, tests and benchmarks need on a fresh Debian machine (as root):
# the system packages below, then `npm ci` when node_modules is missing or older than the lock.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  iproute2        # ip netns, veth, vxlan, bridge (test topology; the agent itself uses netlink)
  iptables        # iptables-restore/-save for capture
  etcd-server     # flannel's registry in integration tests and the demo
  etcd-client     # etcdctl, to inspect the registry by hand
  dnsmasq-base    # kube-dns stand-in and reference resolver (the -base package starts no service)
  dnsperf         # DNS benchmark
  knot-dnsutils   # kdig
  bind9-dnsutils  # dig
  openssl         # verifies issued certificates
  iputils-ping    # ping across the overlay
  procps          # ps/pgrep in tests
  curl            # the test kube-apiserver's start.sh polls its health endpoint
  python3         # tiny test helpers (a fake NOTIFY_SOCKET listener); node-gyp (native/udp-batch)
  make            # node-gyp (native/udp-batch)
  g++             # node-gyp (native/udp-batch): compiles C, links with g++; brings gcc-12's libasan/libubsan (sanitized run)
  patchelf        # the sanitized run's copy of node that loads libasan first (scripts/test-native-sanitized.sh)
  dpkg-dev        # dpkg-buildpackage (npm run package)
  debhelper       # dh, compat 13 (npm run package)
  lintian         # packaging tests: the .deb has no lintian errors
  debootstrap     # packaging tests: a fresh Debian 12 root to install the .deb into
  systemd-container  # packaging tests: systemd-nspawn boots that root to run the unit for real
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: missing packages: ${missing[*]}; run as root (or apt-get install them)" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Packages like etcd-server would start their own service; we start what we need ourselves.
  policy_created=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_created=1
  fi
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  [ "$policy_created" -eq 1 ] && rm -f /usr/sbin/policy-rc.d
fi

stamp=node_modules/.package-lock.json
# A symlinked node_modules belongs to another checkout (a git worktree): `npm ci` would empty it there.
if [ -L node_modules ]; then
  :
elif [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "bootstrap: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

# The DNS listener's batched UDP socket: rebuilt when missing or older than its sources.
addon=native/udp-batch/build/Release/udp_batch.node
if [ ! -f "$addon" ] || [ -n "$(find native/udp-batch -maxdepth 1 \( -name '*.c' -o -name '*.h' -o -name binding.gyp \) -newer "$addon")" ]; then
  echo "bootstrap: building native/udp-batch" >&2
  bash scripts/build-native.sh
fi
