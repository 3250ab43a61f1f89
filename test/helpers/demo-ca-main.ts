/**
 * The demo's istiod CA as a process (so it can listen inside a network namespace): started by
 * demo-ca.ts with one JSON argument, writes the VM's bootstrap files, prints "READY <address>",
 * and serves until killed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TestCa } from './test-ca.js';

interface Args {
  host: string;
  port: number;
  dir: string;
  bootstrapDir: string;
  identity: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const ca = await TestCa.create({ protocol: 'istiod', host: args.host, port: args.port, backdateMs: 120_000 });
const token = `demo-token-${process.pid}`;
ca.addToken(token, args.identity, 24 * 3_600_000);
await mkdir(args.bootstrapDir, { recursive: true });
await mkdir(args.dir, { recursive: true });
// What `istioctl x workload entry configure` hands the VM: the mesh root and a service-account token.
await writeFile(join(args.bootstrapDir, 'root-cert.pem'), ca.rootPem);
await writeFile(join(args.bootstrapDir, 'istio-token'), `${token}\n`, { mode: 0o600 });
await writeFile(join(args.dir, 'intermediate.pem'), ca.issuer.certPem);
process.stdout.write(`READY ${ca.address}\n`);
const stop = (): void => {
  void ca.stop().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Each issued certificate on one line, for the demo's curious reader.
setInterval(() => {
  const last = ca.requests.at(-1);
  if (last?.issuedSerial !== undefined) process.stdout.write(`ISSUED ${ca.issued} ${last.identity} ${last.auth}\n`);
}, 60_000).unref();
