/**
 * Runs inside a test namespace (the test process itself stays in the host's): exercises the
 * netlink layer where only a real kernel can answer, and prints one JSON line.
 */
import { NetlinkEvents } from '../../src/netlink/events.js';
import { getLinkByName } from '../../src/netlink/links.js';
import { routeDelete, routeReplace } from '../../src/netlink/routes.js';
import { RtSocket } from '../../src/netlink/socket.js';

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
}
