// Node --import hook: appends every module URL this process resolves to $IMPORT_LOG, one per
// line, so a test can see which modules a command loaded (test/cli/lazy.test.ts).
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (process.env.IMPORT_LOG) appendFileSync(process.env.IMPORT_LOG, r.url + '\\n');
  return r;
}`),
);
