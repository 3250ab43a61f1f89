/**
 * `npm run bench -- identity [--n 30] [--rotations 20]`
 *
 * 1. Key + CSR + install per rotation (RSA 2048, fsynced generation switch), against a reference
 *    measured in the same run: `openssl req -newkey rsa:2048 -nodes` writing key and CSR files.
 *    Target: ≤ 250 ms per rotation.
 * 2. CPU per rotation of the real agent process rotating against a local TLS CA (key, CSR, gRPC
 *    over TLS, verification, install), against openssl's CPU for one key + CSR.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { CertStore } from '../src/identity/cert-store.js';
import { generateKeyAndCsr } from '../src/identity/keys-and-csr.js';
import { startAgent } from '../test/helpers/agent-process.js';
import { waitFor } from '../test/helpers/exec.js';
import { TestCa } from '../test/helpers/test-ca.js';
import { issueWorkloadCert } from '../test/helpers/pki.js';
import { median, quantile } from './_stats.js';

const ID = 'spiffe://cluster.local/ns/bench/sa/bench';
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function arg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const value = i >= 0 ? Number(args[i + 1]) : Number.NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** utime + stime (ms) of a process, or of this process's waited-for children (cutime + cstime). */
function cpuMs(pid: number | 'self', children = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the comm field: state is index 0, utime 11, stime 12, cutime 13, cstime 14.
  const [a, b] = children ? [fields[13], fields[14]] : [fields[11], fields[12]];
  return ((Number(a) + Number(b)) * 1000) / TICKS_PER_SECOND;
}

async function rotationCost(n: number, dir: string, ca: TestCa): Promise<number[]> {
  const store = new CertStore(join(dir, 'store'));
  const times: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const t0 = performance.now();
    const fresh = await generateKeyAndCsr(2048, ID);
    const t1 = performance.now();
    // The CA's work is not ours: sign outside the timed section.
    const now = Date.now();
    const leaf = issueWorkloadCert(ca.issuer, forge.pki.publicKeyFromPem(fresh.publicKeyPem), ID, { notBefore: new Date(now - 120_000), notAfter: new Date(now + 3_600_000) });
    const t2 = performance.now();
    await store.install({ keyPem: fresh.keyPem, chainPem: leaf + ca.issuer.certPem + ca.rootPem, rootPem: ca.rootPem, meta: { issuedAt: now, spiffeId: ID, serial: String(i) } });
    const t3 = performance.now();
    times.push(t1 - t0 + (t3 - t2));
  }
  return times;
}

function opensslCost(n: number, dir: string): { times: number[]; cpu: number } {
  const times: number[] = [];
  const cpuBefore = cpuMs('self', true);
  for (let i = 0; i < n; i += 1) {
    const t0 = performance.now();
    execFileSync('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, `k${i}.pem`), '-out', join(dir, `c${i}.csr`), '-subj', '/O=', '-addext', `subjectAltName=URI:${ID}`], { stdio: 'ignore' });
    times.push(performance.now() - t0);
  }
  return { times, cpu: (cpuMs('self', true) - cpuBefore) / n };
}

async function agentCpuPerRotation(rotations: number, dir: string, ca: TestCa): Promise<{ cpu: number; rotations: number }> {
  await writeFile(join(dir, 'root.pem'), ca.rootPem);
  await writeFile(join(dir, 'token'), 'bench-token');
  ca.addToken('bench-token', ID);
  await mkdir(join(dir, 'agent'));
  const agent = await startAgent({
    dir: join(dir, 'agent'),
    config: {
      log: { level: 'warn' },
      identity: {
        enabled: true,
        ca: { protocol: 'istiod', address: ca.address, serverName: 'istiod.istio-system.svc', rootCert: join(dir, 'root.pem'), tokenFile: join(dir, 'token') },
        spiffe: { trustDomain: 'cluster.local', namespace: 'bench', serviceAccount: 'bench' },
        certDir: join(dir, 'agent-certs'),
        owner: '',
        ttl: '2s',
        graceRatio: 0.9,
        graceJitter: 0,
      },
    },
  });
  try {
    await agent.waitReady(30_000);
    const pid = agent.proc.pid ?? 0;
    const issued0 = ca.issued;
    const cpu0 = cpuMs(pid);
    await waitFor('rotations', () => ca.issued >= issued0 + rotations, rotations * 5000, 20);
    const done = ca.issued - issued0;
    return { cpu: (cpuMs(pid) - cpu0) / done, rotations: done };
  } finally {
    await agent.cleanup();
  }
}

export async function main(args: string[]): Promise<void> {
  const n = arg(args, 'n', 30);
  const rotations = arg(args, 'rotations', 20);
  const dir = await mkdtemp(join(tmpdir(), 'mna-bench-identity-'));
  const ca = await TestCa.create({ protocol: 'istiod', backdateMs: 120_000 });
  try {
    await generateKeyAndCsr(2048, ID); // warm-up: module and crypto initialisation
    const ours = await rotationCost(n, dir, ca);
    const ref = opensslCost(n, dir);
    const oursMedian = median(ours);
    const refMedian = median(ref.times);
    console.log(`identity: key + CSR + install per rotation (RSA 2048, n=${n}): median ${oursMedian.toFixed(1)} ms, p90 ${quantile(ours, 0.9).toFixed(1)} ms (target <= 250 ms: ${oursMedian <= 250 ? 'met' : 'NOT met'})`);
    console.log(`reference: openssl req -newkey rsa:2048 -nodes, key + CSR written (n=${n}): median ${refMedian.toFixed(1)} ms, p90 ${quantile(ref.times, 0.9).toFixed(1)} ms`);
    console.log(`ratio agent/openssl (median time): ${(oursMedian / refMedian).toFixed(2)}`);
    const agent = await agentCpuPerRotation(rotations, dir, ca);
    console.log(`agent CPU per rotation (real daemon, ${agent.rotations} rotations over gRPC/TLS incl. verify + install): ${agent.cpu.toFixed(1)} ms`);
    console.log(`reference: openssl CPU per key + CSR: ${ref.cpu.toFixed(1)} ms; ratio agent/openssl (CPU): ${(agent.cpu / Math.max(ref.cpu, 1)).toFixed(2)}`);
  } finally {
    await ca.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
