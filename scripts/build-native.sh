#!/usr/bin/env bash
# Builds native/udp-batch (the DNS listener's batched UDP socket) with the node-gyp that ships
# inside npm, against this Node's headers: $npm_config_nodedir / `npm config get nodedir` when set,
# else the prefix of the running node when it has include/node/node_api.h (Debian's nodejs-dev,
# NodeSource, the official tarballs). No network: node-gyp never downloads headers here.
set -euo pipefail
cd "$(dirname "$0")/../native/udp-batch"

npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
gyp="$npm_dir/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$gyp" ] || { echo "build-native: node-gyp not found in npm ($gyp)" >&2; exit 1; }

nodedir=${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}
if [ -z "$nodedir" ] || [ "$nodedir" = undefined ] || [ ! -f "$nodedir/include/node/node_api.h" ]; then
  nodedir=$(node -p 'require("node:path").resolve(process.execPath, "../..")')
fi
[ -f "$nodedir/include/node/node_api.h" ] || { echo "build-native: no Node headers ($nodedir/include/node/node_api.h); install nodejs-dev or set npm's nodedir" >&2; exit 1; }

node "$gyp" rebuild --nodedir="$nodedir" --loglevel=warn >&2
echo "build-native: native/udp-batch/build/Release/udp_batch.node" >&2
