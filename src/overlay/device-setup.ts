/**
 * The VXLAN device as the controller sets it up: the underlay (address, MTU), the persisted VTEP
 * MAC, this VM's subnet (from the registry, or overlay.subnet), then the device itself; and the
 * host's facts the peer gate needs, taken from the same dump.
 */
import type { OverlayDetails } from '../status/status-document.js';
import type { OverlayConfig } from '../config/schema.js';
import { AgentError, ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { Link } from '../netlink/links.js';
import type { LocalVtep } from '../registry/registry.js';
import { hostFacts } from './host-facts.js';
import type { OverlayKernel } from './kernel.js';
import type { HostSide } from './peer-intake.js';
import { parseSubnet, type Subnet } from './subnet.js';
import { resolveUnderlay, type Underlay } from './underlay.js';
import { loadOrCreateMac } from './vtep-mac.js';
import type { DeviceSpec } from './vxlan-device.js';

export function deviceName(config: OverlayConfig): string {
  return config.device !== '' ? config.device : `flannel.${config.vni}`;
}

/** Registers this VM (announcing `local`) and resolves with its subnet. */
export type Acquire = (local: LocalVtep) => Promise<string>;

export class DeviceSetup {
  private spec: DeviceSpec | undefined;
  private current: Link | undefined;
  private underlay: Underlay | undefined;
  private subnet: Subnet | undefined;
  private actions: string[] = [];

  constructor(
    private readonly kernel: OverlayKernel,
    private readonly log: Logger,
  ) {}

  get link(): Link | undefined {
    return this.current;
  }

  /** This VM's subnet and VTEP MAC, once set up. */
  own(): { subnet?: string; mac?: string } {
    return { ...(this.subnet === undefined ? {} : { subnet: this.subnet.cidr }), ...(this.spec === undefined ? {} : { mac: this.spec.mac }) };
  }

  /** Underlay, MAC, own subnet, then the device; resolves with the host's facts for the gate. */
  async setup(config: OverlayConfig, stateDir: string, acquire: Acquire): Promise<HostSide> {
    const k = this.kernel;
    const [links, addresses, routes] = [await k.listLinks(), await k.listAddresses(), await k.listRoutes()];
    this.underlay = resolveUnderlay(config.underlay, links, addresses, routes);
    const name = deviceName(config);
    const existing = links.find((l) => l.name === name);
    const { mac, created } = await loadOrCreateMac(stateDir, name, existing?.kind === 'vxlan' ? existing.mac : undefined);
    if (created) this.log.info({ mac, device: name }, 'VTEP MAC stored');
    const subnetText = await acquire({ publicIP: this.underlay.address, vtepMAC: mac });
    const own = parseSubnet(subnetText);
    if (own === undefined) throw new AgentError(ErrorCode.ConfigInvalid, `overlay.subnet: "${subnetText}" is not an IPv4 CIDR`);
    this.subnet = own;
    const mtu = config.mtu > 0 ? config.mtu : this.underlay.mtu - 50;
    this.spec = { name, vni: config.vni, port: config.port, local: this.underlay.address, underlayIndex: this.underlay.index, mtu, mac, vtep: own.network };
    await this.ensure();
    // The gate knows the host before the first peers arrive (the start pass finds the same facts).
    const overlayIndexes = [existing?.index ?? -1, this.current?.index ?? -1];
    const { network: _network, ...host } = hostFacts({ addresses, routes, overlayIndexes }, { ownSubnet: own.cidr, ownMAC: mac });
    return host;
  }

  /** Checks (and repairs) the device; true when it was re-created under a new index. */
  async ensure(): Promise<boolean> {
    if (this.spec === undefined) throw new AgentError(ErrorCode.Internal, 'device spec missing');
    const before = this.current?.index;
    const result = await this.kernel.ensureDevice(this.spec);
    this.current = result.link;
    if (result.actions.length > 0) {
      this.actions = result.actions;
      this.log.info({ device: this.spec.name, actions: result.actions }, 'VXLAN device set up');
    }
    return before !== undefined && before !== result.link.index;
  }

  status(): OverlayDetails['device'] {
    const spec = this.spec;
    if (spec === undefined) return null;
    const u = this.underlay;
    return {
      name: spec.name,
      index: this.current?.index,
      up: this.current?.up,
      vni: spec.vni,
      port: spec.port,
      mtu: spec.mtu,
      mac: spec.mac,
      vtep: spec.vtep,
      subnet: this.subnet?.cidr,
      underlay: u === undefined ? undefined : { name: u.name, address: u.address, mtu: u.mtu },
      lastActions: this.actions,
    };
  }
}
