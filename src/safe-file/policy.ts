/**
 * Who could have written a local file: the one test behind every trust decision the agent makes
 * about files (identity.certDir and what is in it, identity.ca.rootCert, Istio's env files). Pure.
 */

export type FileKind = 'file' | 'dir' | 'link' | 'other';

export interface FileFacts {
  kind: FileKind;
  uid: number;
  gid: number;
  /** st_mode with the type bits stripped (permissions, setuid/setgid, sticky). */
  mode: number;
  nlink: number;
  size: number;
}

export function modeText(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/**
 * Why someone other than root could have changed this file or directory; undefined when only
 * root could. When the agent is not root (development), its own uid counts as root.
 */
export function writableByOthers(facts: Pick<FileFacts, 'uid' | 'mode'>, euid: number): string | undefined {
  if (facts.uid !== 0 && facts.uid !== euid) return `owned by uid ${facts.uid}`;
  const who = [facts.mode & 0o020 ? 'group' : '', facts.mode & 0o002 ? 'others' : ''].filter((s) => s !== '');
  if (who.length > 0) return `writable by ${who.join(' and ')} (mode ${modeText(facts.mode)})`;
  return undefined;
}
