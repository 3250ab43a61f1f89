/**
 * Our last knowledge of the objects on our device: replaced by each full dump, then kept current
 * by the results of our own writes. Peer changes are planned against it, so a single change
 * costs a few map look-ups, not a dump of the whole table.
 */
import { RTPROT_BOOT } from '../netlink/routes.js';
import { indexObserved, type Observed, type ObservedIndex, type Op } from './plan.js';

export class ObservedCache {
  private index: ObservedIndex = indexObserved({ neighbours: [], fdb: [], routes: [] });

  replace(observed: Observed): void {
    this.index = indexObserved(observed);
  }

  /** The live maps (the planner reads them; only this class writes them). */
  get view(): ObservedIndex {
    return this.index;
  }

  clear(): void {
    this.replace({ neighbours: [], fdb: [], routes: [] });
  }

  /** Records a write the kernel acknowledged. */
  applied(op: Op): void {
    const { neighByIp, fdbByMac, routeByDst } = this.index;
    switch (op.type) {
      case 'neigh-set':
        neighByIp.set(op.ip, { ip: op.ip, mac: op.mac, permanent: true });
        break;
      case 'neigh-del':
        neighByIp.delete(op.ip);
        break;
      case 'fdb-set':
        // REPLACE keeps one remote per MAC.
        fdbByMac.set(op.mac, [{ mac: op.mac, dst: op.dst, permanent: true }]);
        break;
      case 'fdb-del': {
        const rest = op.dst === undefined ? [] : (fdbByMac.get(op.mac) ?? []).filter((e) => e.dst !== op.dst);
        if (rest.length === 0) fdbByMac.delete(op.mac);
        else fdbByMac.set(op.mac, rest);
        break;
      }
      case 'route-set':
        routeByDst.set(op.dst, { dst: op.dst, gateway: op.gateway, onlink: true, protocol: RTPROT_BOOT });
        break;
      case 'route-del':
        routeByDst.delete(op.dst);
        break;
    }
  }

  get size(): { neighbours: number; fdb: number; routes: number } {
    let fdb = 0;
    for (const list of this.index.fdbByMac.values()) fdb += list.length;
    return { neighbours: this.index.neighByIp.size, fdb, routes: this.index.routeByDst.size };
  }
}
