/**
 * The demo's "istiod": the identity tests' CA server, listening on the load balancer's address
 * inside its namespace. Writes the root certificate and a service-account token for the VM (what
 * an operator copies from the cluster), then serves until killed.
 * Usage: demo-ca-server.ts HOST PORT ROOT_OUT TOKEN_OUT IDENTITY
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TestCa } from './test-ca.js';

const [host = '127.0.0.1', port = '15012', rootOut = '', tokenOut = '', identity = ''] = process.argv.slice(2);
const ca = await TestCa.create({ protocol: 'istiod', host, port: Number(port) });
await mkdir(dirname(rootOut), { recursive: true });
await writeFile(rootOut, ca.rootPem);
const token = randomBytes(32).toString('base64url');
ca.addToken(token, identity, 24 * 3600 * 1000);
await writeFile(tokenOut, token, { mode: 0o600 });
console.log(`listening ${ca.address}`);
process.on('SIGTERM', () => void ca.stop().then(() => process.exit(0)));
