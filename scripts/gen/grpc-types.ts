/**
 * The CA services' TypeScript types, generated with @grpc/proto-loader's proto-loader-gen-types
 * from proto/ with the loader options the agent uses at run time (src/identity/ca-services.ts),
 * into src/identity/generated/ (excluded from lint; never edited by hand).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PROTO_FILES, PROTO_OPTIONS } from '../../src/identity/ca-services.js';
import { GENERATED_NOTE, type Generated } from './output.js';

const OUT = 'src/identity/generated';

export async function grpcTypes(root: string): Promise<Generated> {
  const tmp = await mkdtemp(join(tmpdir(), 'mna-gen-grpc-'));
  try {
    const flags = [
      ...(PROTO_OPTIONS.keepCase ? ['--keepCase'] : []),
      `--longs=${PROTO_OPTIONS.longs.name}`,
      `--enums=${PROTO_OPTIONS.enums.name}`,
      ...(PROTO_OPTIONS.defaults ? ['--defaults'] : []),
      ...(PROTO_OPTIONS.oneofs ? ['--oneofs'] : []),
    ];
    const cli = join(root, 'node_modules/@grpc/proto-loader/build/bin/proto-loader-gen-types.js');
    execFileSync(process.execPath, [cli, ...flags, '--grpcLib=@grpc/grpc-js', '--importFileExtension=.js', '-I', 'proto', '-O', tmp, ...PROTO_FILES], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    const files = new Map<string, string>();
    for (const entry of await readdir(tmp, { withFileTypes: true, recursive: true })) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      files.set(join(OUT, relative(tmp, path)), `// ${GENERATED_NOTE} Source: proto/ (scripts/gen/grpc-types.ts).\n${await readFile(path, 'utf8')}`);
    }
    return { files: new Map([...files].sort(([a], [b]) => a.localeCompare(b))), owns: [OUT] };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
