// Reads the ASan/UBSan/LSan log files of a sanitized run (scripts/test-native-sanitized.sh) and prints
// the reports that fail it: every AddressSanitizer error, every UBSan "runtime error", and every leak
// whose memory was allocated by the addon itself or by N-API on its behalf. Node leaves V8's own
// bookkeeping unfreed when a process dies of an uncaught exception; those leaks are counted, not failed.
// Usage: node scripts/sanitizer-reports.mjs LOG_DIR  (exit 1 when a report fails the run)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A frame in the addon's code (or the harness's canary). */
const OURS = /udp_batch\.c|reply_memo\.c|sanitizer-canary\.c|udp_batch\.node|sanitizer-canary\.node/;
/** Node's N-API layer: an allocation made there for the addon (a reference, a wrap) is the addon's. */
const NAPI = / in (napi_|v8impl::)/;

/** Whether a leak block's allocation stack reaches the addon through N-API frames only. */
function addonLeak(block) {
  const frames = block.split('\n').filter((l) => /^\s*#\d+ /.test(l));
  for (const frame of frames.slice(1)) {
    if (OURS.test(frame)) return true;
    if (!NAPI.test(frame)) return false;
  }
  return false;
}

const dir = process.argv[2];
if (dir === undefined) {
  console.error('usage: sanitizer-reports.mjs LOG_DIR');
  process.exit(64);
}
const failing = [];
let foreignLeaks = 0;
for (const name of readdirSync(dir).sort()) {
  const text = readFileSync(join(dir, name), 'utf8');
  if (/ERROR: AddressSanitizer|runtime error:/.test(text)) {
    failing.push(`== ${name}\n${text}`);
    continue;
  }
  for (const block of text.split(/\n\s*\n/)) {
    if (!/^(Direct|Indirect) leak of/m.test(block)) continue;
    if (addonLeak(block)) failing.push(`== ${name}: a leak of the addon\n${block.trim()}`);
    else foreignLeaks += 1;
  }
}
for (const report of failing) console.log(report);
console.log(`sanitizer-reports: ${failing.length} failing report(s); ${foreignLeaks} leak(s) of Node's own, not the addon's, ignored`);
process.exit(failing.length > 0 ? 1 : 0);
