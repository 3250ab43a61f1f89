/**
 * Keeps this VM's Node registered: created if absent, its podCIDR chosen (pod-cidr.ts) and its
 * flannel annotations, label and taint kept as own-node.ts plans them, with one request per
 * difference. A Node this VM does not own is never touched. After registration every change the
 * watch sees on our Node (an annotation edited away, the Node deleted) is put right again, as a
 * kubelet re-registers its Node; a failed attempt is retried with backoff, at once when the API
 * answers again.
 */
import { AgentError, ErrorCode, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { KubeApiError, isStatus } from '../../kube/api-error.js';
import { backoffDelay, KUBE_BACKOFF, type BackoffOptions } from '../../kube/backoff.js';
import { resourcePath, type KubeClient } from '../../kube/client.js';
import { listAll } from '../../kube/list-pager.js';
import type { KubeObject } from '../../kube/objects.js';
import type { NetworkConfig } from '../etcd-network-config.js';
import { ownAnnotations, type FlannelNames } from './annotations.js';
import { podCIDROf } from './node-peer.js';
import { foreignReason, planOwnNode, type ExistingNode } from './own-node.js';
import { choosePodCIDR } from './pod-cidr.js';
import { NODES_PATH } from './peer-source.js';

export interface LocalFacts {
  publicIP: string;
  vtepMAC: string;
}

export interface RegistrarOptions {
  client: KubeClient;
  nodeName: string;
  /** This VM's identity, written in the owner annotation. */
  owner: string;
  names: FlannelNames;
  vni: number;
  /** overlay.subnet, or ''. */
  configured: string;
  /** How long a Node without podCIDR waits for the cluster's allocator before choosing one. */
  allocatorWaitMs: number;
  log: Logger;
  /** flannel's network config (read once, then cached by the caller). */
  network: () => Promise<NetworkConfig>;
  /** Poll period while waiting for the allocator. */
  pollMs?: number;
  backoff?: BackoffOptions;
  /** The podCIDR our Node holds, each time it is (re)confirmed (persisted by the caller). */
  onSubnet?: (subnet: string) => void;
  /** Counts writes, for metrics. */
  onWrite?: (kind: 'create' | 'patch') => void;
}

/** Conflicts (409) and races are retried this many times in one pass before backing off. */
const MAX_CONFLICTS = 10;
/** Writes in one pass: more means someone keeps undoing ours; back off instead of fighting. */
const MAX_WRITES = 5;

export class NodeRegistrar {
  private local: LocalFacts | undefined;
  private subnet: string | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private lastError: string | undefined;
  private foreign: string | undefined;
  private writes = { create: 0, patch: 0 };
  private registeredAt: string | undefined;
  private warnedOverwrite: string | undefined;

  constructor(private readonly options: RegistrarOptions) {}

  get heldSubnet(): string | undefined {
    return this.subnet;
  }

  /**
   * Registers (or confirms) our Node for `local` and returns its podCIDR. Rejects with an
   * AgentError for what the operator must fix (a Node we do not own, a podCIDR that cannot be
   * ours) and with the API's error when it cannot be reached.
   */
  async register(local: LocalFacts): Promise<string> {
    this.local = local;
    const subnet = await this.ensure(true);
    this.failures = 0;
    return subnet;
  }

  /**
   * Registers in the background until it succeeds (the API was unreachable at start), keeping
   * `subnet` meanwhile: it must be the one our Node had.
   */
  registerInBackground(local: LocalFacts, subnet: string): void {
    this.local = local;
    this.subnet = subnet;
    this.schedule(0);
  }

  /** Our Node changed or vanished (the watch saw it): put it right. Ignored before registration. */
  observe(_node: KubeObject | undefined): void {
    if (this.subnet === undefined || this.local === undefined) return;
    this.kick();
  }

  /** The API answers again: retry a pending attempt now. */
  retryNow(): void {
    if (this.timer !== undefined || this.lastError !== undefined) this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  ready(): { ready: boolean; reason?: string } {
    if (this.foreign !== undefined) return { ready: false, reason: this.foreign };
    if (this.registeredAt === undefined) return { ready: false, reason: `Node ${this.options.nodeName} not registered yet${this.lastError === undefined ? '' : `: ${this.lastError}`}` };
    // Registered once, but the last attempt to keep it so failed (deleted and not re-creatable, a fight).
    if (this.lastError !== undefined) return { ready: false, reason: `Node ${this.options.nodeName}: ${this.lastError}` };
    return { ready: true };
  }

  status(): Record<string, unknown> {
    return {
      name: this.options.nodeName,
      owner: this.options.owner,
      ...(this.subnet === undefined ? {} : { podCIDR: this.subnet }),
      registered: this.registeredAt !== undefined,
      ...(this.registeredAt === undefined ? {} : { registeredAt: this.registeredAt }),
      writes: { ...this.writes },
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
    };
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.ensure(false)
      .then(
        () => {
          this.failures = 0;
        },
        (err: unknown) => {
          this.failures += 1;
          const delay = backoffDelay(this.failures - 1, this.options.backoff ?? KUBE_BACKOFF);
          this.options.log.warn({ node: this.options.nodeName, err: errorMessage(err), retryInMs: delay }, 'could not keep our Node registered; retrying');
          this.schedule(delay);
        },
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, ms);
    this.timer.unref();
  }

  /** One pass: read our Node, plan, write; returns its podCIDR once it has one. */
  private async ensure(first: boolean): Promise<string> {
    const { client, nodeName, names, owner, log } = this.options;
    const local = this.local;
    if (local === undefined) throw new AgentError(ErrorCode.Internal, 'registrar used before register()');
    const net = await this.options.network();
    const path = resourcePath({ version: 'v1', resource: 'nodes', name: nodeName });
    // Once we hold a podCIDR it is the only one we may have (the VTEP address is made of it).
    const configured = this.subnet ?? this.options.configured;
    const waitUntil = first && this.options.allocatorWaitMs > 0 ? Date.now() + this.options.allocatorWaitMs : 0;
    let writes = 0;
    for (let conflicts = 0; !this.stopped; ) {
      try {
        const existing = await this.read(path);
        this.foreign = existing === undefined ? undefined : foreignReason(existing, owner);
        if (this.foreign !== undefined) throw new AgentError(ErrorCode.ConfigInvalid, this.foreign);
        const current = existing === undefined ? '' : podCIDROf(existing);
        const others = current === '' ? await this.otherPodCIDRs() : [];
        const choice = choosePodCIDR({ net, configured, current, others, mayChoose: Date.now() >= waitUntil });
        if (choice.kind === 'blocked') throw new AgentError(ErrorCode.ConfigInvalid, `Node ${nodeName}: ${choice.reason}`);
        const own = ownAnnotations(names, { publicIP: local.publicIP, vni: this.options.vni, vtepMAC: local.vtepMAC }, existing?.metadata.annotations);
        if (own.badOverwrite !== undefined && own.badOverwrite !== this.warnedOverwrite) {
          this.warnedOverwrite = own.badOverwrite;
          log.warn({ node: nodeName, annotation: names.publicIPOverwrite }, 'public-ip-overwrite is not an IPv4 address; advertising the underlay address instead');
        }
        const plan = planOwnNode(existing, { name: nodeName, owner, annotations: own.annotations, podCIDR: choice.kind === 'set' ? choice.subnet : '' });
        if ((plan.kind === 'create' || plan.kind === 'patch') && ++writes > MAX_WRITES) {
          throw new AgentError(ErrorCode.KubeApiFailed, `Node ${nodeName} does not keep what the agent writes (${plan.kind === 'patch' ? plan.what.join(', ') : 'created again'}); another writer is undoing it`);
        }
        if (plan.kind === 'create') {
          await client.create(NODES_PATH, plan.body);
          this.writes.create += 1;
          this.options.onWrite?.('create');
          log.info({ node: nodeName, podCIDR: choice.kind === 'set' ? choice.subnet : undefined, why: choice.kind === 'set' ? choice.why : undefined }, 'registered our Node');
          continue;
        }
        if (plan.kind === 'patch') {
          await client.patch(path, plan.patch);
          this.writes.patch += 1;
          this.options.onWrite?.('patch');
          log.info({ node: nodeName, changed: plan.what }, 'our Node updated');
          continue;
        }
        if (choice.kind === 'wait') {
          await this.sleep(this.options.pollMs ?? 250);
          continue;
        }
        // Nothing left to write: the Node is as it must be.
        const subnet = choice.subnet;
        if (this.subnet !== undefined && this.subnet !== subnet) {
          throw new AgentError(ErrorCode.ConfigInvalid, `Node ${nodeName} now has podCIDR ${subnet} but this VM's VTEP uses ${this.subnet}: restart the agent`);
        }
        this.subnet = subnet;
        this.lastError = undefined;
        this.registeredAt ??= new Date().toISOString();
        this.options.onSubnet?.(subnet);
        return subnet;
      } catch (err) {
        // Lost a race (someone created the Node or changed it since we read it): read again.
        if ((isStatus(err, 409) || isStatus(err, 404)) && conflicts < MAX_CONFLICTS) {
          conflicts += 1;
          continue;
        }
        this.lastError = errorMessage(err);
        throw err;
      }
    }
    throw new AgentError(ErrorCode.KubeApiFailed, 'registrar stopped');
  }

  private async read(path: string): Promise<ExistingNode | undefined> {
    try {
      return (await this.options.client.get(path));
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  private async otherPodCIDRs(): Promise<{ name: string; podCIDR: string }[]> {
    const listed = await listAll(this.options.client, NODES_PATH);
    const out: { name: string; podCIDR: string }[] = [];
    for (const node of listed.objects.values()) {
      if (node.metadata.name === this.options.nodeName) continue;
      const podCIDR = podCIDROf(node);
      if (podCIDR !== '') out.push({ name: node.metadata.name, podCIDR });
    }
    return out;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms).unref());
  }
}

/** Whether an error is the API being unreachable or overloaded (retry), not a refusal to fix. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof KubeApiError)) return !AgentError.is(err);
  return err.status === 0 || err.status === 429 || err.status >= 500;
}
