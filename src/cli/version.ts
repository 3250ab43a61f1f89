import { VERSION } from '../version.js';

export function versionCommand(): number {
  process.stdout.write(`mesh-node-agent ${VERSION} (node ${process.version})\n`);
  return 0;
}
