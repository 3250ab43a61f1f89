/**
 * Runs inside a network namespace for bench/overlay.ts: drives the real OverlayController with
 * N peers from a bench peer source and prints its measurements as one JSON line.
 */
import { Registry } from 'prom-client';
import { defaultConfig } from '../src/config/defaults.js';
import { configSchema } from '../src/config/schema.js';
import { createLogger } from '../src/log.js';
import { OverlayController } from '../src/overlay/controller.js';
import { NetlinkKernel } from '../src/overlay/netlink-kernel.js';
import type { Peer, PeerSource } from '../src/registry/peer-source.js';
import { deepMerge } from '../test/helpers/agent-process.js';
import { median, quantile } from './_stats.js';

const n = Number(process.argv[2] ?? '5000');
const stateDir = process.argv[3] ?? '/tmp';

export function peerAt(i: number, mac = i): Peer {
  // 10.0.0.0/8 in /24s; public IPs in 172.16.0.0/12, one per peer (the gate refuses a second claim on one).
  const subnet = `10.${(i >> 8) & 255}.${i & 255}.0/24`;
  const publicIP = `172.${16 + ((i >> 16) & 15)}.${(i >> 8) & 255}.${i & 255}`;
  const vtepMAC = `02:00:${[(mac >> 24) & 255, (mac >> 16) & 255, (mac >> 8) & 255, mac & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
  return { subnet, publicIP, vtepMAC, source: 'bench' };
}

let emit: (peers: readonly Peer[]) => void = () => undefined;
const source: PeerSource = {
  name: 'bench',
  start(onChange) {
    emit = onChange;
    onChange(Array.from({ length: n }, (_, i) => peerAt(i + 1)));
    return Promise.resolve();
  },
  stop: () => Promise.resolve(),
  status: () => ({}),
  ready: () => ({ ready: true }),
};

const config = configSchema.parse(
  deepMerge(defaultConfig(), {
    stateDir,
    overlay: { enabled: true, network: '10.0.0.0/8', subnet: '10.255.255.0/24', underlay: { interface: 'eth0' }, resync: '1h' },
  }),
);
const errors: string[] = [];
const controller = new OverlayController(config, { log: createLogger({ level: 'silent' }), metrics: new Registry(), reportError: (e) => errors.push(String(e)) }, { kernel: new NetlinkKernel(), configSources: () => [source] });

interface Status {
  lastResync: { ms: number; writes: number };
  peers: { programmed: number };
}
const status = (): Status => controller.status() as unknown as Status;

const t0 = performance.now();
await controller.start();
const startMs = performance.now() - t0;
const program = status().lastResync;
const programmed = status().peers.programmed;

const resyncs: number[] = [];
let resyncWrites = 0;
for (let i = 0; i < 7; i++) {
  await controller.resyncNow();
  resyncs.push(status().lastResync.ms);
  resyncWrites += status().lastResync.writes;
}

const peers = Array.from({ length: n }, (_, i) => peerAt(i + 1));
const changes: number[] = [];
for (let k = 0; k < 30; k++) {
  // One peer's MAC changes (neighbour + FDB writes, old FDB entry removed).
  peers[k] = peerAt(k + 1, 0x100000 + k);
  const start = performance.now();
  emit([...peers]);
  await controller.settled();
  changes.push(performance.now() - start);
}
await controller.resyncNow();
const afterChanges = status().lastResync.writes;
const rssMb = process.memoryUsage().rss / 1024 / 1024;
await controller.stop();
process.stdout.write(
  `${JSON.stringify({ n, startMs, programMs: program.ms, programWrites: program.writes, programmed, resyncMedianMs: median(resyncs), resyncMaxMs: Math.max(...resyncs), resyncWrites, changeMedianMs: median(changes), changeP95Ms: quantile(changes, 0.95), afterChangesWrites: afterChanges, workerRssMb: rssMb, errors })}\n`,
);
