/**
 * What changed between two object maps (keyed namespace/name): after a relist the informer
 * delivers exactly these changes, as if it had seen every watch event it missed. An object is
 * modified when its resourceVersion differs. Pure.
 */
import type { KubeObject } from './objects.js';

export type ChangeType = 'added' | 'modified' | 'deleted';

export interface Change {
  type: ChangeType;
  key: string;
  /** The object now; for a deletion, the last state known. */
  object: KubeObject;
  /** The state before a modification. */
  previous?: KubeObject;
}

export function diffObjects(before: ReadonlyMap<string, KubeObject>, after: ReadonlyMap<string, KubeObject>): Change[] {
  const changes: Change[] = [];
  for (const [key, object] of after) {
    const old = before.get(key);
    if (old === undefined) changes.push({ type: 'added', key, object });
    else if (old.metadata.resourceVersion !== object.metadata.resourceVersion) changes.push({ type: 'modified', key, object, previous: old });
  }
  for (const [key, object] of before) {
    if (!after.has(key)) changes.push({ type: 'deleted', key, object });
  }
  return changes.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
