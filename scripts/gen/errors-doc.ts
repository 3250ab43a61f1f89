/** docs/errors.md from src/errors.ts: every code with its meaning and fix. */
import { ERROR_DOCS, ErrorCode } from '../../src/errors.js';
import { GENERATED_NOTE, type Generated } from './output.js';

export function errorsDoc(): Generated {
  const lines = [
    '# Error codes',
    '',
    `<!-- ${GENERATED_NOTE} Source: src/errors.ts (ERROR_DOCS). -->`,
    '',
    'Every error the agent raises carries one of these stable codes (`AgentError` in src/errors.ts). The',
    "code is what scripts, alerts and tests match on: it is the `code` field of a logged error (`err.code`",
    'in the JSON log line) and does not change between releases; the message beside it names the input',
    'and what to do, and may be reworded.',
    '',
    '| code | meaning |',
    '|---|---|',
    ...Object.values(ErrorCode).map((code) => `| [\`${code}\`](#${code.toLowerCase()}) | ${firstSentence(ERROR_DOCS[code].meaning)} |`),
    '',
  ];
  for (const code of Object.values(ErrorCode)) {
    const doc = ERROR_DOCS[code];
    lines.push(`## ${code}`, '', doc.meaning, '', `**Fix:** ${doc.fix}`, '');
  }
  return { files: new Map([['docs/errors.md', lines.join('\n')]]), owns: [] };
}

function firstSentence(text: string): string {
  const end = text.search(/\.(\s|$)/);
  return (end < 0 ? text : text.slice(0, end + 1)).replace(/\|/g, '\\|');
}
