/**
 * `skip` for a test that needs root: one that chowns files to another user or checks that root owns
 * what the agent wrote. Every such test runs in `npm test` (root); a run as another user skips it and
 * says why.
 */
export const NEEDS_ROOT: string | false = process.getuid?.() === 0 ? false : 'needs root: it gives files to another user and checks root ownership';
