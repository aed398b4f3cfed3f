/**
 * The dashboard's drawing components. They only lay out what view-model.ts computed; every
 * line is cut to its box (wrap="truncate-end") so nothing wraps and breaks the 80×24 layout.
 */
import type { ReactNode } from 'react';
import { Box, Text } from 'ink';
import { formatValue, padLeft, padRight, truncate, wrap } from './format.js';
import {
  CELL_WIDTH,
  type ColourScale,
  type DetailVM,
  legend,
  type MatrixVM,
  type RankedEntry,
  type RankedVM,
  type VerdictVM,
  verdictLine,
  windowAround,
} from './view-model.js';

const Line = ({ children, ...rest }: { children?: ReactNode; bold?: boolean; dimColor?: boolean; color?: string; inverse?: boolean }) => (
  <Text wrap="truncate-end" {...rest}>
    {children === undefined || children === '' ? ' ' : children}
  </Text>
);

export function MatrixPane({ vm, scale }: { vm: MatrixVM; scale: ColourScale | null }) {
  if (vm.visibleCount === 0) return <Line dimColor>no experts match the filter (Esc clears it)</Line>;
  const w = CELL_WIDTH - 1;
  return (
    <Box flexDirection="column">
      <Line>
        {padRight(vm.hiddenLeft ? `◂${vm.hiddenLeft}` : '', vm.labelWidth)}
        {vm.columns.map((c) => (
          <Text key={c.expert} bold={c.selected} underline={c.selected}>
            {' ' + padLeft(c.header, w)}
          </Text>
        ))}
        {vm.hiddenRight ? ` ▸${vm.hiddenRight}` : ''}
      </Line>
      {vm.rows.map((r) => (
        <Line key={r.expert}>
          <Text bold={r.selected}>{padRight(r.label, vm.labelWidth)}</Text>
          {r.cells.map((c, k) => (
            <Text key={k}>
              {' '}
              <Text color={c.bucket === null || !scale ? undefined : scale.palette[c.bucket]} inverse={c.selected} bold={c.selected} dimColor={c.diagonal}>
                {padLeft(c.text, w)}
              </Text>
            </Text>
          ))}
        </Line>
      ))}
    </Box>
  );
}

/** Bucket boundaries with a colour swatch between each: readable without colour too. */
export function LegendLine({ scale, label, vm }: { scale: ColourScale | null; label: string; vm?: MatrixVM }) {
  const hidden = vm && (vm.hiddenAbove || vm.hiddenBelow) ? `  rows ${vm.hiddenAbove + 1}–${vm.hiddenAbove + vm.rows.length} of ${vm.visibleCount}` : '';
  if (!scale) return <Line dimColor>{label}: no values{hidden}</Line>;
  const entries = legend(scale);
  return (
    <Line>
      <Text dimColor>{label} </Text>
      {formatValue(entries[0].lo)}
      {entries.map((e) => (
        <Text key={e.colour}>
          {' '}
          <Text color={e.colour}>■</Text> {formatValue(e.hi)}
        </Text>
      ))}
      <Text dimColor>{hidden}</Text>
    </Line>
  );
}

export function MetricList({ detail, rows, width }: { detail: DetailVM; rows: number; width: number }) {
  if (rows <= 0) return null;
  const sel = detail.metrics.findIndex((m) => m.selected);
  const idWidth = Math.min(20, Math.max(8, ...detail.metrics.map((m) => m.id.length)));
  const more = detail.metrics.length > rows;
  const win = windowAround(detail.metrics, sel, more ? rows - 1 : rows);
  return (
    <Box flexDirection="column" width={width}>
      {win.items.map((m) => (
        <Line key={m.id} bold={m.selected}>
          {m.selected ? '▶' : ' '}
          {padRight(m.id, idWidth)} {padLeft(m.text, CELL_WIDTH - 1)} <Text dimColor>{m.label}</Text>
        </Line>
      ))}
      {more ? <Line dimColor>{`  ${win.before ? `↑${win.before} ` : ''}${win.after ? `↓${win.after} ` : ''}more metrics (m)`}</Line> : null}
    </Box>
  );
}

/** Predictions per method, per-layer sparkline, and the selected metric's definition. */
export function PairSide({ detail, rows, width, outcome, hasPredictions }: { detail: DetailVM; rows: number; width: number; outcome: string; hasPredictions: boolean }) {
  const lines: ReactNode[] = [];
  const push = (node: ReactNode) => lines.push(<Box key={lines.length}>{node}</Box>);
  const methodWidth = Math.min(16, Math.max(6, ...detail.predictions.map((p) => p.method.length)));
  if (!hasPredictions) push(<Line dimColor>no predictions (pass --predictor)</Line>);
  else {
    push(<Line bold>{`Predicted ${outcome}`}</Line>);
    // Drivers get their own line only when there is room for them.
    const withDrivers = 1 + detail.predictions.length * 2 + 3 <= rows;
    for (const p of detail.predictions) {
      push(
        <Line bold={p.selected}>
          {p.selected ? '▶' : ' '}
          {padRight(p.method, methodWidth)} {p.text}
        </Line>,
      );
      if (withDrivers && p.drivers) push(<Line dimColor>{`   ${p.drivers}`}</Line>);
    }
  }
  if (detail.sparkline) {
    const s = detail.sparkline;
    push(<Line bold>{`${s.metric} per layer (${s.groups.length})`}</Line>);
    push(
      <Line>
        <Text color="cyan">{s.text}</Text> {formatValue(s.min)}…{formatValue(s.max)}
      </Line>,
    );
  }
  const left = rows - lines.length;
  if (left > 0) for (const l of wrap(detail.description, width, left)) push(<Line dimColor>{l}</Line>);
  return (
    <Box flexDirection="column" width={width}>
      {lines.slice(0, Math.max(0, rows))}
    </Box>
  );
}

function RankedSection({ title, entries, offset, cursor, nameWidth }: { title: string; entries: RankedEntry[]; offset: number; cursor: number; nameWidth: number }) {
  return (
    <Box flexDirection="column">
      <Line bold>{title}</Line>
      {entries.length === 0 ? <Line dimColor>  (none)</Line> : null}
      {entries.map((e, k) => (
        <Line key={`${e.i},${e.j}`} inverse={offset + k === cursor}>
          {`${padLeft(String(e.rank), 3)}. ${padRight(e.a, nameWidth)} × ${padRight(e.b, nameWidth)} ${padLeft(formatValue(e.value), CELL_WIDTH - 1)}`}
        </Line>
      ))}
    </Box>
  );
}

export function RankedPane({ vm, cursor, width }: { vm: RankedVM; cursor: number; width: number }) {
  const nameWidth = Math.max(4, Math.floor((width - 5 - 3 - CELL_WIDTH) / 2));
  if (vm.total === 0) return <Line dimColor>no pairs to rank (filter or missing values)</Line>;
  return (
    <Box flexDirection="column" width={width}>
      <RankedSection title={vm.bestTitle} entries={vm.best} offset={0} cursor={cursor} nameWidth={nameWidth} />
      <Line />
      <RankedSection title={vm.avoidTitle} entries={vm.avoid} offset={vm.best.length} cursor={cursor} nameWidth={nameWidth} />
    </Box>
  );
}

/**
 * The best-method view, full width: the verdict's notes and the predictor's out-of-fold quality,
 * the pairs tied with the best and the pairs to avoid — each with its best method (or "no clear
 * best"), interval and domain (in / OOD ×distance / ?) — and, at the bottom, every method's
 * prediction for the selected pair.
 */
export function VerdictPane({ vm, detail, cursor, width, rows }: { vm: VerdictVM; detail: DetailVM; cursor: number; width: number; rows: number }) {
  const pairWidth = Math.max(8, Math.min(width - 5 - 19 - 24 - 9, Math.max(...vm.entries.map((e) => e.pair.length))));
  const notes = vm.notes.slice(0, 3);
  const quality = wrap(vm.quality, width, 2);
  const preds = detail.predictions;
  const half = Math.floor((width - 1) / 2);
  const detailLines = detail.note ? 1 : 1 + Math.ceil(preds.length / 2);
  const groups = vm.groups.slice(0, 3);
  const listRows = Math.max(2, rows - notes.length - quality.length - groups.length - 2 - detailLines);
  const leadRows = Math.max(1, vm.avoid.length ? Math.ceil(listRows / 2) : listRows);
  const lead = windowAround(vm.lead, cursor < vm.lead.length ? cursor : 0, leadRows);
  const avoid = windowAround(vm.avoid, cursor >= vm.lead.length ? cursor - vm.lead.length : 0, Math.max(1, listRows - leadRows));
  const line = (e: VerdictVM['entries'][number], k: number) => (
    <Line key={`${e.i},${e.j}`} inverse={k === cursor} color={e.inDomain === false ? 'yellow' : undefined}>
      {verdictLine(e, pairWidth)}
    </Line>
  );
  const methodWidth = Math.min(16, Math.max(6, ...preds.map((p) => p.method.length)));
  const cells = preds.map((p) => truncate(`${padRight(p.method, methodWidth)} ${p.text}`, half));
  return (
    <Box flexDirection="column" width={width}>
      {notes.map((t, k) => (
        <Line key={`n${k}`} color={/OUT OF DOMAIN|outside/.test(t) ? 'yellow' : undefined}>
          {t}
        </Line>
      ))}
      {quality.map((t, k) => (
        <Line key={`q${k}`} dimColor>
          {t}
        </Line>
      ))}
      {groups.map((t, k) => (
        <Line key={`g${k}`} color="cyan">
          {truncate(t, width)}
        </Line>
      ))}
      <Line bold color="green">
        {vm.leadTitle}
        {lead.before ? ` ↑${lead.before}` : ''}
        {lead.after ? ` ↓${lead.after}` : ''}
      </Line>
      {lead.items.map((e, k) => line(e, lead.before + k))}
      <Line bold color="red">
        {vm.avoidTitle}
      </Line>
      {avoid.items.map((e, k) => line(e, vm.lead.length + avoid.before + k))}
      <Line bold>
        {`▶ ${detail.title}`}
        {detail.note ? <Text dimColor>{`  (${detail.note})`}</Text> : null}
      </Line>
      {detail.note
        ? null
        : Array.from({ length: Math.ceil(cells.length / 2) }, (_, r) => (
            <Line key={`d${r}`}>
              {padRight(cells[2 * r], half)} {cells[2 * r + 1] ?? ''}
            </Line>
          ))}
    </Box>
  );
}

export const HELP_KEYS: [string, string][] = [
  ['← ↑ ↓ → / h j k l', 'move the cursor (matrix) or selection (list)'],
  ['m', 'next metric (colours matrix, orders list, sparkline)'],
  ['M', 'next method: colour/rank by predicted outcome'],
  ['/', 'filter experts by name; Enter applies, Esc clears'],
  ['tab', 'switch pair matrix → ranked list → best method'],
  ['b', 'best method per pair: ties, pairs to avoid, domain (the verdict)'],
  ['e', 'export the current view as CSV + JSON'],
  ['?', 'this help (Esc or ? closes)'],
  ['q', 'quit'],
];

export function HelpPane({ width }: { width: number }) {
  return (
    <Box flexDirection="column" width={width}>
      <Line bold>Keys</Line>
      {HELP_KEYS.map(([k, d]) => (
        <Line key={k}>
          <Text bold>{padRight(k, 20)}</Text>
          {truncate(d, Math.max(0, width - 21))}
        </Line>
      ))}
      <Line />
      <Line dimColor>Cells show the selected metric (or predicted outcome) for each pair.</Line>
      <Line dimColor>Colours bin values into 5 equal ranges; the legend line gives the bounds.</Line>
      <Line dimColor>Detail: all metrics, predictions [lo, hi] with their driving metrics,</Line>
      <Line dimColor>and the selected metric per layer (▁ lowest … █ highest).</Line>
    </Box>
  );
}
