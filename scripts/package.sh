#!/usr/bin/env bash
# `npm run package`: builds build/mesh-node-agent_<version>_amd64.deb from this checkout.
#   1. checks the tools (dpkg-buildpackage, debhelper; `npm run bootstrap` installs them) and Node 20
#   2. bundles src/ (scripts/build.mjs) and stages this machine's Node 20 as the package's runtime
#   3. runs dpkg-buildpackage in a staging copy under build/, so the checkout stays clean
# Env: MNA_VERSION=X builds version X (adds a changelog entry in the staging copy);
#      MNA_NODE=/path/to/node ships that Node 20 instead of the one on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "package: $*" >&2; exit 1; }
for tool in dpkg-buildpackage dh dpkg-deb; do
  command -v "$tool" >/dev/null || die "$tool not found; run 'npm run bootstrap' (apt: dpkg-dev debhelper)"
done
command -v node >/dev/null || die "node not found; install Node 20"
[ -d node_modules/esbuild ] || die "node_modules is missing; run 'npm ci' (or 'npm run bootstrap')"

version=${MNA_VERSION:-$(node -p 'require("./package.json").version')}
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "version '$version' is not a Debian native version (digits, letters, . + ~)"
arch=$(dpkg --print-architecture)
[ "$arch" = amd64 ] || echo "package: warning: building on $arch; debian/control says amd64" >&2

stage=build/stage/mesh-node-agent-$version
rm -rf "$stage" && mkdir -p "$stage" build

MNA_VERSION=$version MNA_BUILD_OUT="$stage/dist" node scripts/build.mjs
sh scripts/stage-runtime.sh "$stage/runtime"
cp -RL debian "$stage/debian"           # -L: the unit is a link to systemd/
mkdir -p "$stage/scripts" "$stage/docs"
cp scripts/man-page.mjs "$stage/scripts/"
cp docs/packaging.md "$stage/docs/"

top=$(dpkg-parsechangelog -l debian/changelog -S Version)
if [ "$top" != "$version" ]; then
  { printf 'mesh-node-agent (%s) unstable; urgency=medium\n\n  * Build of %s.\n\n -- %s  %s\n\n' \
      "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo 'a source tree')" \
      "$(dpkg-parsechangelog -l debian/changelog -S Maintainer)" "$(date -R)"
    cat debian/changelog; } > "$stage/debian/changelog"
fi

(cd "$stage" && dpkg-buildpackage -us -uc -b >../build.log 2>&1) || { tail -40 build/stage/build.log >&2; die "dpkg-buildpackage failed (full log: build/stage/build.log)"; }
deb=mesh-node-agent_${version}_${arch}.deb
mv "build/stage/$deb" "build/$deb"
rm -rf "$stage"
echo "package: build/$deb ($(du -h "build/$deb" | cut -f1); installed $(dpkg-deb -f "build/$deb" Installed-Size) KiB)" >&2
echo "build/$deb"
