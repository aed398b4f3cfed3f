/**
 * The dashboard app: holds the state, turns keys into reducer calls, performs the reducer's
 * effects (quit, export), and lays out the panes for the current terminal size.
 */
import path from 'node:path';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Box, Text, useApp, useInput, useStdout, type Key } from 'ink';
import { exportView } from './export.js';
import { keysFromInk } from './keys.js';
import { HelpPane, LegendLine, MatrixPane, MetricList, PairSide, RankedPane, VerdictPane } from './panes.js';
import { activeFilter, type DashState, type InitialOptions, initialState, reduce } from './state.js';
import { buildDetail, buildMatrix, buildRanked, buildVerdictView, colourScale, computeLayout, contextFor, type DashboardData, lensInfo, selectedPair } from './view-model.js';
import { visibleExperts } from './state.js';

export interface AppProps {
  data: DashboardData;
  /** Where `e` writes files (default: current directory). */
  exportDir?: string;
  initial?: InitialOptions;
  /** Clock for export file names (tests pin it). */
  now?: () => Date;
  /** Called when the user quits, before the app unmounts. */
  onQuit?: () => void;
  /** Called after an export with the written paths. */
  onExport?: (paths: { csvPath: string; jsonPath: string }) => void;
}

/** Terminal size from the stdout ink renders to, updated on 'resize'. */
export function useTerminalSize(): { width: number; height: number } {
  const { stdout } = useStdout();
  const read = useCallback(() => ({ width: stdout.columns || 80, height: stdout.rows || 24 }), [stdout]);
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, read]);
  return size;
}

const displayPath = (p: string) => {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
};

export function App({ data, exportDir, initial, now, onQuit, onExport }: AppProps) {
  const { exit } = useApp();
  const size = useTerminalSize();
  const [state, setState] = useState<DashState>(() => initialState(data, initial));
  // Keys can arrive faster than React re-renders: reduce against the latest state, not a stale closure.
  const stateRef = useRef(state);
  // Ink writes a newline after the frame; one spare row keeps the top line from scrolling away.
  const layout = useMemo(
    () => computeLayout(size.width, size.height - 1, visibleExperts(data.experts, activeFilter(state)).length),
    [size, data, state],
  );
  const layoutRef = useRef(layout);
  layoutRef.current = layout;

  const update = (s: DashState) => {
    stateRef.current = s;
    setState(s);
  };

  const runExport = (s: DashState) => {
    exportView(data, s, layoutRef.current, { dir: exportDir, now: now?.() })
      .then((paths) => {
        onExport?.(paths);
        update({ ...stateRef.current, status: `exported ${displayPath(paths.csvPath)} + .json` });
      })
      .catch((e: unknown) => update({ ...stateRef.current, status: `export failed: ${(e as Error).message}` }));
  };

  useInput((input: string, key: Key) => {
    for (const k of keysFromInk(input, key)) {
      const r = reduce(stateRef.current, k, contextFor(data, stateRef.current, layoutRef.current));
      update(r.state);
      if (r.effect === 'quit') {
        onQuit?.();
        exit();
        return;
      }
      if (r.effect === 'export') runExport(r.state);
    }
  });

  const lens = lensInfo(data, state);
  const scale = colourScale(data, lens);
  const ranked = buildRanked(data, state, layout.perSection);
  const pair = selectedPair(data, state, ranked);
  const detail = buildDetail(data, state, pair, Math.max(4, layout.rightWidth - 18));
  const filter = activeFilter(state);
  const nVisible = visibleExperts(data.experts, filter).length;

  const header = [
    'mergelens',
    state.view === 'matrix' ? 'pair matrix' : state.view === 'list' ? 'ranked pairs' : 'best method',
    `${lens.kind === 'metric' ? lens.id : `${lens.id} (predicted)`}`,
    filter ? `filter "${filter}" ${nVisible}/${data.experts.length}` : `${data.experts.length} experts`,
    '? help',
  ].join(' │ ');

  let footer: string;
  if (state.filterDraft !== null) footer = `/${state.filterDraft}▏  Enter apply · Esc clear`;
  else if (state.status) footer = state.status;
  else footer = '←↑↓→ move  m metric  M method  b best method  / filter  tab view  e export  ? help  q quit';

  let body;
  if (state.help) {
    body = <HelpPane width={layout.width} />;
  } else if (state.view === 'verdict') {
    const vm = buildVerdictView(data, state);
    body = vm ? (
      <VerdictPane vm={vm} detail={detail} cursor={Math.min(state.listCursor, vm.entries.length - 1)} width={layout.width} rows={layout.body} />
    ) : (
      <Text dimColor>no predictions: pass --predictor or --predictions</Text>
    );
  } else if (state.view === 'matrix') {
    const vm = buildMatrix(data, state, layout.width, layout.matrixRows);
    body = (
      <Box flexDirection="column">
        <MatrixPane vm={vm} scale={scale} />
        <LegendLine scale={scale} label={lens.kind === 'metric' ? 'scale' : 'predicted'} vm={vm} />
        <Text wrap="truncate-end" bold>
          {`▶ ${detail.title}`}
          {detail.note ? <Text dimColor>{`  (${detail.note})`}</Text> : null}
        </Text>
        {detail.note ? null : (
          <Box flexDirection="row">
            <MetricList detail={detail} rows={layout.detailRows} width={layout.leftWidth} />
            <Box width={1} />
            <PairSide detail={detail} rows={layout.detailRows} width={layout.rightWidth} outcome={data.outcome} hasPredictions={data.methods.length > 0} />
          </Box>
        )}
      </Box>
    );
  } else {
    const sideRows = layout.body - 1;
    body = (
      <Box flexDirection="row">
        <RankedPane vm={ranked} cursor={Math.min(state.listCursor, ranked.entries.length - 1)} width={layout.leftWidth} />
        <Box width={1} />
        <Box flexDirection="column" width={layout.rightWidth}>
          <Text wrap="truncate-end" bold>{`▶ ${detail.title}`}</Text>
          {detail.note ? null : (
            <PairSide detail={detail} rows={sideRows - Math.min(detail.metrics.length, 6)} width={layout.rightWidth} outcome={data.outcome} hasPredictions={data.methods.length > 0} />
          )}
          {detail.note ? null : <MetricList detail={detail} rows={Math.min(detail.metrics.length, 6)} width={layout.rightWidth} />}
        </Box>
      </Box>
    );
  }

  return (
    <Box flexDirection="column" width={layout.width} height={layout.height}>
      <Text wrap="truncate-end" inverse>
        {` ${header}`.padEnd(layout.width)}
      </Text>
      <Box flexDirection="column" height={layout.body} overflow="hidden">
        {body}
      </Box>
      <Text wrap="truncate-end" dimColor={!state.status}>
        {footer}
      </Text>
    </Box>
  );
}
