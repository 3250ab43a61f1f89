/** Kernel change notifications as the event monitor reports them (one JSON object per line). */
export type EventOp = 'new' | 'del';

export type KernelEvent =
  | { kind: 'link'; op: EventOp; index: number; name: string }
  | { kind: 'addr'; op: EventOp; index: number; address?: string }
  | { kind: 'neigh'; op: EventOp; family: number; index: number; ip?: string; mac?: string; permanent: boolean }
  | { kind: 'route'; op: EventOp; dst: string; oif?: number; table: number };
