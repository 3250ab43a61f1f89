/**
 * Makes identity.certDir root's before anything in it is read (planCertDir decides). Ownership and
 * mode are changed through a descriptor opened with O_NOFOLLOW, so a link swapped in cannot
 * redirect the chown. Needs CAP_CHOWN only: chown first, then chmod as the new owner.
 */
import { constants, type Stats } from 'node:fs';
import { chmod, lstat, mkdir, open, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import { modeText, type FileFacts } from '../safe-file/policy.js';
import { errnoOf, factsOf } from '../safe-file/read.js';
import { planCertDir } from './cert-dir-plan.js';

/** The directory is created 0755 whatever the umask (the unit's is 0077): the proxy must reach its key. */
export const CERT_DIR_MODE = 0o755;

async function factsOrUndefined(read: Promise<Stats>): Promise<FileFacts | undefined> {
  try {
    return factsOf(await read);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function refuse(path: string, problem: string, fix: string, cause?: unknown): AgentError {
  return new AgentError(ErrorCode.CertDirUnsafe, `identity.certDir ${path} ${problem}; refusing to use it. Fix: ${fix}`, cause === undefined ? undefined : { cause });
}

export interface CertDirChange {
  /** What was wrong (absent when the directory was just created). */
  problem?: string;
  action: string;
}

/** Returns what it changed, or undefined when the directory was already root's. */
export async function secureCertDir(path: string, euid: number): Promise<CertDirChange | undefined> {
  const dir = resolve(path);
  const parentPath = dirname(dir);
  const plan = planCertDir(dir, await factsOrUndefined(lstat(dir)), await factsOrUndefined(stat(parentPath)), parentPath, euid);
  switch (plan.action) {
    case 'ok':
      return undefined;
    case 'refuse':
      throw refuse(dir, plan.problem, plan.fix);
    case 'create':
      await mkdir(dir, { mode: CERT_DIR_MODE });
      await chmod(dir, CERT_DIR_MODE);
      return { action: `created, mode ${modeText(CERT_DIR_MODE)}` };
    case 'fix': {
      const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      try {
        if (plan.chown) await handle.chown(0, -1); // the group stays, so a group-traversable directory remains so
        await handle.chmod(plan.mode);
      } catch (err) {
        const fix = `chown root ${dir} && chmod go-w ${dir}, then restart (the agent needs CAP_CHOWN to do it itself)`;
        throw refuse(dir, `is ${plan.problem} and could not be made root's (${errorMessage(err)})`, fix, err);
      } finally {
        await handle.close();
      }
      return { problem: plan.problem, action: `made root-owned, mode ${modeText(plan.mode)} (the proxy may read it, not write it)` };
    }
  }
}
