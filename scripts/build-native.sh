#!/usr/bin/env bash
# Builds native/udp-batch (the DNS listener's batched UDP socket) with the node-gyp that ships
# inside npm, against this Node's headers: $npm_config_nodedir / `npm config get nodedir` when set,
# else the prefix of the running node when it has include/node/node_api.h (Debian's nodejs-dev,
# NodeSource, the official tarballs). No network: node-gyp never downloads headers here.
#
# --sanitized: the same sources and defines (read from binding.gyp) built by gcc with AddressSanitizer
# and UndefinedBehaviorSanitizer into native/udp-batch/build-asan/udp_batch.node, for
# scripts/test-native-sanitized.sh only (never packaged: it needs libasan preloaded into node).
set -euo pipefail
cd "$(dirname "$0")/../native/udp-batch"

nodedir=${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}
if [ -z "$nodedir" ] || [ "$nodedir" = undefined ] || [ ! -f "$nodedir/include/node/node_api.h" ]; then
  nodedir=$(node -p 'require("node:path").resolve(process.execPath, "../..")')
fi
[ -f "$nodedir/include/node/node_api.h" ] || { echo "build-native: no Node headers ($nodedir/include/node/node_api.h); install nodejs-dev or set npm's nodedir" >&2; exit 1; }

if [ "${1:-}" = --sanitized ]; then
  # binding.gyp is plain JSON here: its sources, defines and warning flags, without its -O2.
  mapfile -t gyp < <(node -e '
    const t = JSON.parse(require("node:fs").readFileSync("binding.gyp", "utf8")).targets[0];
    console.log(t.sources.join(" "));
    console.log([...t.defines.map((d) => "-D" + d), ...t.cflags.filter((f) => !/^-O/.test(f))].join(" "));')
  # -O1 -g: readable stacks; no recovery, so the first report ends the process. UBSan's runtime is
  # linked in with its symbols kept local: the preloaded libasan exports the same sanitizer_common
  # entry points, and a shared libubsan bound to those never opens its own UBSAN_OPTIONS log_path.
  sanitize=(-shared -fPIC -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
    -static-libubsan -Wl,--exclude-libs,ALL -I"$nodedir/include/node")
  mkdir -p build-asan
  # shellcheck disable=SC2086
  gcc "${sanitize[@]}" ${gyp[1]} ${gyp[0]} -o build-asan/udp_batch.node
  # The harness's own check (scripts/test-native-sanitized.sh): an addon with one bug of each kind.
  # shellcheck disable=SC2086
  gcc "${sanitize[@]}" ${gyp[1]} ../../test/fixtures/sanitizer-canary.c -o build-asan/sanitizer-canary.node
  echo "build-native: native/udp-batch/build-asan/udp_batch.node (ASan+UBSan), sanitizer-canary.node" >&2
  exit 0
fi

npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
gyp="$npm_dir/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$gyp" ] || { echo "build-native: node-gyp not found in npm ($gyp)" >&2; exit 1; }

node "$gyp" rebuild --nodedir="$nodedir" --loglevel=warn >&2
echo "build-native: native/udp-batch/build/Release/udp_batch.node" >&2
