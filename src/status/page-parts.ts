/**
 * Small pieces every section of the status page uses. Each value sits in its own element with a
 * data-k name: the page's script fills the same names, and tests read them. Pure.
 */
import { html, type Html } from './html.js';
import type { ActiveSection, ControllerSection } from './status-document.js';

/** One "label: value" row of a definition list. */
export function kv(label: string, key: string, value: unknown, cls = ''): Html {
  return html`<dt>${label}</dt><dd${cls === '' ? '' : html` class="${cls}"`} data-k="${key}">${value === undefined || value === null ? '' : value}</dd>`;
}

export function yesNo(value: boolean | undefined): string {
  return value === undefined ? '' : value ? 'yes' : 'no';
}

/** A controller the supervisor has started (its section has the supervisor's fields). */
export function isActive<D>(section: ControllerSection<D>): section is ActiveSection & Partial<D> {
  return section.state !== 'disabled' && section.state !== 'not started';
}

/** A section for a capability: its heading, a state line, then the body when it is running. */
export function capabilitySection<D>(name: string, title: string, section: ControllerSection<D>, body: (s: ActiveSection & Partial<D>) => Html): Html {
  const head = html`<h2>${title} <span class="state ${stateClass(section)}" data-k="${name}.state">${stateText(section)}</span></h2>`;
  if (!isActive(section)) return html`<section id="${name}">${head}</section>`;
  const s = section;
  const problem = s.statusError ?? (s.ready ? undefined : (s.reason ?? s.lastError?.message));
  return html`<section id="${name}">${head}${problem === undefined ? '' : html`<p class="problem" data-k="${name}.problem">${problem}</p>`}${body(s)}</section>`;
}

export function stateText(section: ControllerSection<unknown>): string {
  if (!isActive(section)) return section.state;
  return section.state === 'running' ? (section.ready ? 'ready' : 'not ready') : section.state;
}

export function stateClass(section: ControllerSection<unknown>): string {
  if (section.state === 'disabled') return 'off';
  if (section.state === 'running' && section.ready) return 'ok';
  return 'bad';
}

/** "… and N more" under a cut list. */
export function more(shown: number, total: number, key: string): Html {
  return total > shown ? html`<p class="note" data-k="${key}">${total - shown} more not shown (see /status)</p>` : html``;
}
