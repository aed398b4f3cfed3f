/** Human-readable text for `mergelens check` (presentation only; the data is PreflightReport). */
import type { PreflightIssue, PreflightReport } from './preflight.js';
import { escapeControl as esc } from '../util/terminal.js';

const MAX_PER_CODE = 10;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function issueLine(i: PreflightIssue): string {
  // Tensor names and messages (which quote names and values) come from the files: escaped.
  return `  ${i.severity.padEnd(7)} [${i.code}] ${i.tensor ? `${esc(i.tensor)}: ` : ''}${esc(i.message)}`;
}

/** Issues grouped by code, at most MAX_PER_CODE lines per code with a count of the rest. */
function issueLines(issues: PreflightIssue[]): string[] {
  const out: string[] = [];
  const byCode = new Map<string, PreflightIssue[]>();
  for (const i of issues) {
    const g = byCode.get(i.code);
    if (g) g.push(i);
    else byCode.set(i.code, [i]);
  }
  const order = { error: 0, warning: 1, info: 2 };
  const groups = [...byCode.values()].sort((a, b) => order[a[0].severity] - order[b[0].severity]);
  for (const g of groups) {
    for (const i of g.slice(0, MAX_PER_CODE)) out.push(issueLine(i));
    if (g.length > MAX_PER_CODE) out.push(`  ${''.padEnd(7)} … and ${g.length - MAX_PER_CODE} more [${g[0].code}] (see --json)`);
  }
  return out;
}

export function formatPreflight(r: PreflightReport): string {
  const lines: string[] = [];
  lines.push(`base: ${esc(r.base.name)} (${r.base.kind}, ${plural(r.base.tensors, 'tensor')}, ${r.base.parameters.toLocaleString('en-US')} parameters)  ${esc(r.base.path)}`);
  // One pass to group issues by expert and count names, so the text is linear in the issue count.
  const byExpert = new Map<string | undefined, PreflightIssue[]>();
  for (const i of r.issues) {
    const g = byExpert.get(i.expert);
    if (g) g.push(i);
    else byExpert.set(i.expert, [i]);
  }
  const nameCount = new Map<string, number>();
  for (const e of r.experts) nameCount.set(e.name, (nameCount.get(e.name) ?? 0) + 1);
  for (const l of issueLines(byExpert.get(undefined) ?? [])) lines.push(l);
  lines.push('');
  for (const e of r.experts) {
    const label = nameCount.get(e.name)! > 1 ? e.path : e.name;
    const mine = byExpert.get(label) ?? [];
    const errors = mine.filter((i) => i.severity === 'error').length;
    const warnings = mine.filter((i) => i.severity === 'warning').length;
    const status = errors ? plural(errors, 'error') : warnings ? `OK with ${plural(warnings, 'warning')}` : 'OK';
    const delta =
      e.medianRelDelta === null ? '' : `; median ‖θ−θ₀‖/‖θ₀‖ = ${e.medianRelDelta.toPrecision(3)} (sampled)${e.descendsFromBase === false ? ' — NOT a fine-tune of this base' : ''}`;
    const lora = e.lora ? `; LoRA: ${e.lora.checked}/${e.lora.modules} modules fit the base` : '';
    lines.push(`${esc(label)} (${e.kind}, ${plural(e.tensors, 'tensor')}): ${status}${delta}${lora}`);
    for (const l of issueLines(mine)) lines.push(l);
  }
  lines.push('');
  const c = r.counts;
  lines.push(`summary: ${plural(c.error, 'error')}, ${plural(c.warning, 'warning')}, ${c.info} info — ${r.ok ? 'ready to merge' : 'fix the errors before merging'}`);
  return lines.join('\n') + '\n';
}
