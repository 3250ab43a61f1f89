/**
 * Typed access to a running agent's /status and /status/history (src/status/status-document.ts),
 * so tests read fields by name instead of casting the JSON at every use.
 */
import assert from 'node:assert/strict';
import type { ActiveSection, ControllerDetails, ControllerSection, StatusDocument, StatusHistory } from '../../src/status/status-document.js';

/** What fetchStatus needs of an agent (AgentHandle has it). */
export interface StatusGetter {
  get(path: string): Promise<{ status: number; body: string }>;
}

async function getJson(agent: StatusGetter, path: string): Promise<unknown> {
  const res = await agent.get(path);
  assert.equal(res.status, 200, `GET ${path}: HTTP ${res.status}: ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body) as unknown;
}

export async function fetchStatus(agent: StatusGetter): Promise<StatusDocument> {
  const doc = (await getJson(agent, '/status')) as StatusDocument;
  // The shape the type promises, checked where it matters: a wrong guess fails here, not later.
  assert.equal(typeof doc.version, 'string', '/status has a version');
  assert.equal(typeof doc.controllers, 'object', '/status has controllers');
  for (const name of ['identity', 'overlay', 'capture', 'dns'] as const) assert.equal(typeof doc.controllers[name]?.state, 'string', `/status controllers.${name}.state`);
  return doc;
}

export async function fetchHistory(agent: StatusGetter): Promise<StatusHistory> {
  const history = (await getJson(agent, '/status/history')) as StatusHistory;
  assert.ok(Array.isArray(history.points), '/status/history has points');
  return history;
}

/** A started controller's section (supervisor fields always, details unless status() failed). */
export function active<D>(section: ControllerSection<D>): ActiveSection & Partial<D> {
  assert.ok(section.state !== 'disabled' && section.state !== 'not started', `controller is ${section.state}`);
  return section as ActiveSection & Partial<D>;
}

/** A running controller's section with its details, which a running controller always has. */
export function running<D>(section: ControllerSection<D>): ActiveSection & D {
  const s = active(section);
  assert.equal(s.state, 'running', `controller is ${s.state}: ${s.lastError?.message ?? s.reason ?? ''}`);
  assert.equal(s.statusError, undefined, `its status() threw: ${s.statusError ?? ''}`);
  return s as ActiveSection & D;
}

/** fetchStatus, then one running controller's section. */
export async function controllerStatus<N extends keyof ControllerDetails>(agent: StatusGetter, name: N): Promise<ActiveSection & ControllerDetails[N]> {
  const doc = await fetchStatus(agent);
  return running<ControllerDetails[N]>(doc.controllers[name]);
}
