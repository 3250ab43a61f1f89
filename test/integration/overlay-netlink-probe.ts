/**
 * Runs inside a test namespace (the test process itself stays in the host's): exercises the
 * netlink layer where only a real kernel can answer, and prints one JSON line.
 */
import { listFdb, listNeighbours } from '../../src/netlink/neighbours.js';
import { NetlinkEvents, monitorScript } from '../../src/netlink/events.js';
import { applyPlan } from '../../src/overlay/apply.js';
import { NetlinkKernel } from '../../src/overlay/netlink-kernel.js';
import { ObservedCache } from '../../src/overlay/observed-cache.js';
import { ensureDevice } from '../../src/overlay/vxlan-device.js';
import { getLinkByName } from '../../src/netlink/links.js';
import { routeDelete, routeReplace } from '../../src/netlink/routes.js';
import { RtSocket } from '../../src/netlink/socket.js';
import { waitFor } from '../helpers/exec.js';

const mode = process.argv[2];
const out = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

if (mode === 'errors') {
  // As many failing writes as a huge resync could send: every one produces an error reply, the
  // worst case for the receive buffer. The process must live and report each one.
  const s = new RtSocket();
  const lo = await getLinkByName(s, 'lo');
  if (lo === undefined) throw new Error('no lo');
  const n = 20_000;
  const results = await s.batchOf(n, (i) => routeDelete({ index: lo.index, name: 'lo' }, { dst: `10.${(i >> 8) & 255}.${i & 255}.0/24` }));
  const one = await s.batch([routeReplace({ index: 999_999, name: 'nosuch0' }, { dst: '10.9.9.0/24', gateway: '10.9.9.0' })]);
  out({ n, failed: results.filter((e) => e?.errno === 'ESRCH').length, limits: s.limits, message: one[0]?.message, code: one[0]?.code });
  s.close();
} else if (mode === 'rollback') {
  // A peer whose route the kernel refuses (its gateway is our own VTEP address): the neighbour
  // and FDB entry that went in before it must be taken out again; a good peer beside it stays.
  const s = new RtSocket();
  const kernel = new NetlinkKernel();
  kernel.open();
  const eth = await getLinkByName(s, 'eth0');
  if (eth === undefined) throw new Error('no eth0');
  const { link } = await ensureDevice(s, { name: 'flannel.1', vni: 1, port: 8472, local: '192.168.0.81', underlayIndex: eth.index, mtu: 1450, mac: '02:00:00:00:00:81', vtep: '10.234.3.0' });
  const dev = { index: link.index, name: link.name };
  const cache = new ObservedCache();
  const result = await applyPlan((ops) => kernel.write(dev, ops), {
    removals: [],
    peers: [
      { subnet: '10.9.0.0/24', ops: [{ type: 'neigh-set', ip: '10.9.0.0', mac: '02:00:00:00:00:09' }, { type: 'fdb-set', mac: '02:00:00:00:00:09', dst: '192.168.0.9' }, { type: 'route-set', dst: '10.9.0.0/24', gateway: '10.234.3.0' }] },
      { subnet: '10.8.0.0/24', ops: [{ type: 'neigh-set', ip: '10.8.0.0', mac: '02:00:00:00:00:08' }, { type: 'fdb-set', mac: '02:00:00:00:00:08', dst: '192.168.0.8' }, { type: 'route-set', dst: '10.8.0.0/24', gateway: '10.8.0.0' }] },
    ],
  }, cache);
  out({ failed: [...result.failedSubnets], failures: result.failures.map((f) => f.message), neighbours: (await listNeighbours(s, dev)).map((n) => n.ip), fdb: (await listFdb(s, dev)).map((e) => e.mac), cache: cache.size });
  kernel.close();
  s.close();
} else if (mode === 'monitor') {
  const events = new NetlinkEvents();
  const seen: string[] = [];
  events.on('lost', () => seen.push('lost'));
  events.on('ready', () => seen.push('ready'));
  events.on('event', (e) => {
    if (e.kind === 'link' && e.name === 'probe0') seen.push(`link-${e.op}`);
  });
  events.start();
  await events.waitReady(20_000);
  const { execFileSync } = await import('node:child_process');
  execFileSync('ip', ['link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1']);
  await new Promise((r) => setTimeout(r, 500));
  // Kill the monitor as an ENOBUFS abort would: it must come back.
  execFileSync('pkill', ['-KILL', '-P', String(process.pid), '-f', 'monitor-child']);
  await events.waitReady(20_000);
  execFileSync('ip', ['link', 'del', 'probe0']);
  await new Promise((r) => setTimeout(r, 500));
  events.stop();
  out({ seen, restarts: events.restarts });
} else if (mode === 'orphan') {
  // The agent killed outright: the monitor's next event meets a pipe nobody reads. It must end
  // quietly (exit 0), not abort inside the netlink package's callback.
  const { spawn, execFileSync } = await import('node:child_process');
  const child = spawn(process.execPath, [...process.execArgv, monitorScript()], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.stdout.destroy();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal === null ? code : -1)));
  // A link change per check, until one reaches the monitor and it has ended.
  let links = 0;
  await waitFor('the orphaned monitor to end', () => {
    if (child.exitCode !== null || child.signalCode !== null) return true;
    links += 1;
    execFileSync('ip', ['link', 'add', `orphan${links}`, 'type', 'veth', 'peer', 'name', `orphan${links}p`]);
    return false;
  }, 10_000, 100);
  const code = await exited;
  out({ code, aborted: /terminate called|Napi::Error/.test(stderr) });
}
