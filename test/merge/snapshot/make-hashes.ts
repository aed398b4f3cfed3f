/**
 * Record the merge-output hashes of the current code (see cases.ts):
 *   node --import tsx test/merge/snapshot/make-hashes.ts > test/merge/snapshot/merge-hashes.json
 */
import { execSync } from 'node:child_process';
import { OUT_DTYPES, runCase, snapshotCases } from './cases.js';

const hashes: Record<string, string> = {};
for (const c of snapshotCases()) for (const dtype of OUT_DTYPES) hashes[`${c.id}/${dtype}`] = await runCase(c, dtype);
let commit = 'unknown';
try {
  commit = execSync('git rev-parse HEAD', { encoding: 'utf8' }).trim();
} catch {}
process.stdout.write(
  JSON.stringify({ command: 'node --import tsx test/merge/snapshot/make-hashes.ts > test/merge/snapshot/merge-hashes.json', commit, made: new Date().toISOString(), hashes }, null, 2) + '\n',
);
