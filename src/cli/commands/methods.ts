/**
 * `mergelens methods`: the merge methods with their formulas, parameters and defaults
 * (text, or `--json` for scripts).
 */
import type { Command } from 'commander';
import type { MergeMethod } from '../../types.js';
import { listMethods } from '../../merge/registry.js';

export function methodsAsJson(methods: MergeMethod[]): unknown[] {
  return methods.map((m) => ({
    id: m.id,
    aliases: m.aliases,
    description: m.description,
    needsBase: m.needsBase,
    minExperts: m.minExperts,
    maxExperts: Number.isFinite(m.maxExperts) ? m.maxExperts : null,
    usesWeights: m.usesWeights !== false,
    params: m.params,
  }));
}

export function formatMethods(methods: MergeMethod[]): string {
  const lines: string[] = [];
  for (const m of methods) {
    const arity = Number.isFinite(m.maxExperts) ? `${m.minExperts}–${m.maxExperts} experts` : `≥${m.minExperts} expert(s)`;
    lines.push(`${m.id}${m.aliases.length ? ` (alias: ${m.aliases.join(', ')})` : ''}  [${arity}${m.needsBase ? ', needs --base' : ''}${m.usesWeights === false ? ', no weights' : ''}]`);
    lines.push(`  ${m.description}`);
    for (const p of m.params) {
      const range = p.choices ? `, one of ${p.choices.join('|')}` : p.min !== undefined || p.max !== undefined ? `, in ${p.minExclusive ? '(' : '['}${p.min ?? '-∞'}, ${p.max ?? '∞'}]` : '';
      lines.push(`    ${p.name} (${p.type}, default ${String(p.default)}${range}): ${p.doc}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('methods')
    .description('list merge methods with formulas, parameters and defaults')
    .option('--json', 'machine-readable JSON on stdout')
    .action((o: { json?: boolean }) => {
      const methods = listMethods();
      process.stdout.write(o.json ? JSON.stringify(methodsAsJson(methods), null, 2) + '\n' : formatMethods(methods));
    });
}
