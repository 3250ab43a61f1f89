#!/bin/sh
# Copies the Node.js runtime the package ships (this machine's node, or $MNA_NODE) and its license
# into DIR (default runtime/): DIR/node and DIR/LICENSE. The agent targets Node 20.
set -eu
dir=${1:-runtime}
node_bin=${MNA_NODE:-$(node -p process.execPath)}
major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
if [ "$major" != 20 ]; then
  echo "stage-runtime: $node_bin is Node $major; the package ships Node 20 (set MNA_NODE=/path/to/node-20)" >&2
  exit 1
fi
prefix=$(dirname "$(dirname "$(readlink -f "$node_bin")")")
license=
for candidate in "$prefix/share/doc/nodejs/LICENSE" "$prefix/LICENSE" "$prefix/share/doc/node/LICENSE"; do
  if [ -f "$candidate" ]; then license=$candidate; break; fi
done
if [ -z "$license" ]; then
  echo "stage-runtime: no LICENSE next to $node_bin (looked in $prefix/share/doc/nodejs, $prefix); the package must ship it" >&2
  exit 1
fi
install -d "$dir"
install -m 0755 "$node_bin" "$dir/node"
install -m 0644 "$license" "$dir/LICENSE"
echo "stage-runtime: $("$dir/node" --version) from $node_bin" >&2
