/**
 * The event monitor, run as a child process of the agent. It joins the rtnetlink groups for
 * links, addresses, neighbours and IPv4 routes and writes one JSON line per change to stdout.
 * It lives in its own process because a burst of notifications (a device with thousands of
 * neighbours deleted at once) can overflow any receive buffer, and the `netlink` package turns
 * ENOBUFS into a process abort: here that costs a restart and a full resync, not the daemon.
 */
import { createRtNetlink, rt } from 'netlink';
import { AF_INET, bufferToIp, bufferToMac } from './codec.js';
import type { KernelEvent } from './event-types.js';
import { toRoute } from './routes.js';

const DELETES = new Set<number>([rt.MessageType.DELLINK, rt.MessageType.DELADDR, rt.MessageType.DELNEIGH, rt.MessageType.DELROUTE]);

function describe(type: number, data: Buffer): KernelEvent | undefined {
  const msg = rt.parseMessage(type, data);
  const op = DELETES.has(type) ? 'del' : 'new';
  switch (msg.kind) {
    case 'link':
      return { kind: 'link', op, index: msg.data.index ?? 0, name: msg.attrs.ifname ?? '' };
    case 'address': {
      const address = bufferToIp(msg.attrs.local ?? msg.attrs.address);
      return { kind: 'addr', op, index: msg.data.index ?? 0, ...(address === undefined ? {} : { address }) };
    }
    case 'neighbor': {
      const ip = bufferToIp(msg.attrs.dst);
      const mac = bufferToMac(msg.attrs.lladdr);
      return { kind: 'neigh', op, family: msg.data.family ?? 0, index: msg.data.ifindex ?? 0, permanent: msg.data.state?.permanent === true, ...(ip === undefined ? {} : { ip }), ...(mac === undefined ? {} : { mac }) };
    }
    case 'route': {
      if (msg.data.family !== AF_INET) return undefined;
      const r = toRoute(msg);
      if (r === undefined) return undefined;
      return { kind: 'route', op, dst: r.dst, table: r.table, ...(r.oif === undefined ? {} : { oif: r.oif }) };
    }
    default:
      return undefined;
  }
}

// SO_RCVBUF is capped by rmem_max: an overflow then ends this process, and the agent resyncs.
const sock = createRtNetlink({ ref: true, recvBufferSize: 8 * 1024 * 1024, sendBufferSize: 0 });
for (const group of ['LINK', 'IPV4_IFADDR', 'NEIGH', 'IPV4_ROUTE'] as const) sock.addMembership(group);
/**
 * While the agent writes thousands of objects it mutes us: we leave the neighbour and route
 * groups, so the kernel does not even copy the echo of its writes to us (link and address
 * changes still come). A change someone else makes in that window is found by the resync.
 */
const MUTABLE_GROUPS = ['NEIGH', 'IPV4_ROUTE'] as const;
let muted = false;
function setMuted(on: boolean): void {
  if (on === muted) return;
  muted = on;
  for (const group of MUTABLE_GROUPS) {
    if (on) sock.dropMembership(group);
    else sock.addMembership(group);
  }
}
sock.socket.on('message', (msgs) => {
  let out = '';
  for (const m of msgs) {
    try {
      const ev = describe(m.type, m.data);
      if (ev === undefined) continue;
      out += `${JSON.stringify(ev)}\n`;
    } catch {
      // an unparsable notification only loses itself; the periodic resync covers it
    }
  }
  if (out !== '') process.stdout.write(out);
});
// The agent gone without closing our stdin (killed outright), a write meets a broken pipe: that
// error, unhandled, would be thrown inside the netlink package's callback, which aborts the process.
process.stdout.on('error', () => process.exit(0));
process.stdout.write('{"kind":"ready"}\n');
// The agent owns us: when it goes away (stdin closes), so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  for (const line of chunk.split('\n')) {
    if (line === 'mute') setMuted(true);
    else if (line === 'unmute') setMuted(false);
  }
});
