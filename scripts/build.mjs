#!/usr/bin/env node
/**
 * `npm run build`: src/main.ts as one ESM file, dist/main.mjs, plus the few files it needs at run time
 * beside it (dist/ is the whole application directory the .deb installs as /usr/lib/mesh-node-agent):
 *   main.mjs                     the bundle (unminified: readable stack traces without source maps)
 *   chunk-*.mjs, controller-*.mjs... its code split per controller, loaded only when that one is enabled
 *   proto/                       the CA protocols, loaded by @grpc/proto-loader (MNA_PROTO_DIR)
 *   etcd3-proto/                 etcd3's own .proto files, when etcd3 is bundled (see rewriteEtcd3)
 *   node_modules/netlink, node-gyp-build
 *                                the native netlink addon (a .node file cannot be inlined), this arch only
 *   udp_batch.node               the DNS listener's batched UDP socket (native/udp-batch, built by
 *                                scripts/bootstrap.sh; src/dns/udp-batch.ts looks for it here)
 *   THIRD-PARTY-LICENSES.txt     license of every bundled package
 * Env: MNA_VERSION overrides package.json's version (packaging tests build a bumped release);
 * MNA_BUILD_ENTRY / MNA_BUILD_OUT bundle another entry into another directory (tests bundle a probe
 * that imports every runtime-file-loading dependency, whichever controllers src/main.ts has today).
 */
import { build } from 'esbuild';
import { builtinModules } from 'node:module';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const entry = resolve(process.env.MNA_BUILD_ENTRY || join(root, 'src/main.ts'));
const out = resolve(process.env.MNA_BUILD_OUT || join(root, 'dist'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = process.env.MNA_VERSION || pkg.version;
const arch = process.env.MNA_ARCH || process.arch;

/** Packages with native addons: kept out of the bundle, shipped as files (only what they load). */
const NATIVE = {
  netlink: (path) => path === 'package.json' || path === 'LICENSE' || (path.startsWith('dist/') && path.endsWith('.js')) || path.startsWith(`prebuilds/linux-${arch}/`),
  // Only the loader: its bin.js/optional.js are CLI scripts (lintian: script-not-executable).
  'node-gyp-build': (path) => ['package.json', 'LICENSE', 'index.js', 'node-gyp-build.js'].includes(path),
};

/**
 * etcd3 loads `${__dirname}/../proto/rpc.proto` when its module is evaluated; inside the bundle
 * __dirname is the application directory, whose ../proto is not etcd3's. Point it at etcd3-proto/.
 */
const ETCD3_PROTO_EXPR = '`${__dirname}/../proto/rpc.proto`';
const etcd3Plugin = {
  name: 'etcd3-proto-path',
  setup(b) {
    b.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes(ETCD3_PROTO_EXPR)) {
        return { errors: [{ text: `etcd3 changed how it finds rpc.proto (no ${ETCD3_PROTO_EXPR} in ${args.path}); update scripts/build.mjs` }] };
      }
      return { contents: source.replace(ETCD3_PROTO_EXPR, '`${__dirname}/etcd3-proto/rpc.proto`'), loader: 'js' };
    });
  },
};

// CommonJS dependencies bundled into ESM still call require() and read __dirname/__filename.
const banner = [
  "import { createRequire as __mnaCreateRequire } from 'node:module';",
  "import { fileURLToPath as __mnaFileURLToPath } from 'node:url';",
  "import { dirname as __mnaDirname } from 'node:path';",
  'const require = __mnaCreateRequire(import.meta.url);',
  'const __filename = __mnaFileURLToPath(import.meta.url);',
  'const __dirname = __mnaDirname(__filename);',
].join('\n');

function copyFiltered(from, to, keep) {
  const walk = (dir) => {
    for (const entry of readdirSync(dir)) {
      const full = join(dir, entry);
      const rel = relative(from, full).split('\\').join('/');
      if (statSync(full).isDirectory()) {
        if (entry !== 'node_modules') walk(full);
      } else if (keep(rel)) {
        mkdirSync(dirname(join(to, rel)), { recursive: true });
        cpSync(full, join(to, rel));
      }
    }
  };
  walk(from);
}

/** package name of a node_modules path, e.g. node_modules/@grpc/grpc-js/build/x.js -> @grpc/grpc-js */
function packageOf(input) {
  const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m?.[1];
}

function licenseText(name) {
  const dir = join(root, 'node_modules', name);
  const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  const text = file === undefined ? '(no license file shipped by the package)' : readFileSync(join(dir, file), 'utf8').trim();
  return `${'='.repeat(78)}\n${name} ${meta.version}: ${typeof meta.license === 'string' ? meta.license : 'see below'}\n${'='.repeat(78)}\n${text}\n`;
}

rmSync(out, { recursive: true, force: true });
const result = await build({
  // The netlink event monitor runs as a child process (src/netlink/events.ts): its own entry,
  // emitted beside main.mjs where monitorScript() looks for it.
  entryPoints: { main: entry, 'monitor-child': join(root, 'src/netlink/monitor-child.ts') },
  outdir: out,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // A chunk per dynamically imported controller (src/controllers.ts), beside main.mjs: modules that
  // find files next to themselves through import.meta.url see the same directory in any chunk.
  splitting: true,
  chunkNames: '[name]-[hash]',
  external: Object.keys(NATIVE),
  define: { __MNA_VERSION__: JSON.stringify(version) },
  banner: { js: banner },
  legalComments: 'none', // full license texts go to THIRD-PARTY-LICENSES.txt instead
  charset: 'ascii', // non-ASCII in strings becomes escapes; see asciiOnly below for comments
  keepNames: true,
  metafile: true,
  logLevel: 'warning',
  plugins: [etcd3Plugin],
});

/**
 * V8 keeps a script's source for lazy compilation, and one non-Latin-1 character (an "≤" in a
 * comment) makes all of it a two-byte string: 10 MB of heap instead of 5. With charset 'ascii'
 * what is left outside ASCII can only sit in comments, where a '?' changes nothing.
 */
function asciiOnly(file) {
  const text = readFileSync(file, 'utf8');
  const cleaned = text.replace(/[^\x00-\x7f]/g, '?');
  if (cleaned !== text) writeFileSync(file, cleaned);
}
for (const file of Object.keys(result.metafile.outputs)) if (file.endsWith('.mjs')) asciiOnly(resolve(file));

const bundled = new Set(Object.keys(result.metafile.inputs).map(packageOf).filter((name) => name !== undefined));
const externals = new Set(
  Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external && !i.path.startsWith('node:') && !builtinModules.includes(i.path)).map((i) => i.path)),
);

for (const name of Object.keys(NATIVE)) {
  if (!externals.has(name) && !(name === 'node-gyp-build' && externals.has('netlink'))) continue;
  copyFiltered(join(root, 'node_modules', name), join(out, 'node_modules', name), NATIVE[name]);
  bundled.add(name);
}
if (externals.has('netlink') && !existsSync(join(out, 'node_modules/netlink/prebuilds', `linux-${arch}`))) {
  throw new Error(`netlink has no prebuilt addon for linux-${arch}`);
}
// Only when the DNS code is in the bundle (MNA_BUILD_ENTRY may be a probe without it).
const udpBatch = join(root, 'native/udp-batch/build/Release/udp_batch.node');
if (Object.keys(result.metafile.inputs).some((input) => input.endsWith('src/dns/udp-batch.ts'))) {
  if (!existsSync(udpBatch)) throw new Error(`${relative(root, udpBatch)} is missing; run 'npm run bootstrap' (it builds native/udp-batch)`);
  cpSync(udpBatch, join(out, 'udp_batch.node'));
}
if (bundled.has('etcd3')) cpSync(join(root, 'node_modules/etcd3/proto'), join(out, 'etcd3-proto'), { recursive: true });
if (existsSync(join(root, 'proto'))) cpSync(join(root, 'proto'), join(out, 'proto'), { recursive: true });

writeFileSync(join(out, 'THIRD-PARTY-LICENSES.txt'), [...bundled].sort().map(licenseText).join('\n'));
writeFileSync(join(out, 'VERSION'), `${version}\n`);

const size = statSync(join(out, 'main.mjs')).size;
console.error(`build: ${relative(root, out) || '.'}/main.mjs ${(size / 1e6).toFixed(1)} MB, version ${version}, ${bundled.size} packages; native: ${[...externals].join(', ') || 'none'}`);
