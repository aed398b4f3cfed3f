/**
 * The dashboard's search view: holds the state, turns keys into reducer calls and draws the
 * lines search-view-model.ts builds for the current terminal size.
 */
import { useRef, useState } from 'react';
import { Box, Text, useApp, useInput, type Key } from 'ink';
import { keysFromInk } from './keys.js';
import { useTerminalSize } from './App.js';
import type { SearchViewModel } from '../report/search-view.js';
import { initialSearchState, reduceSearch, type SearchDashState } from './search-state.js';
import { buildSearchScreen, listOf } from './search-view-model.js';

export interface SearchAppProps {
  vm: SearchViewModel;
  onQuit?: () => void;
}

export function SearchApp({ vm, onQuit }: SearchAppProps) {
  const { exit } = useApp();
  const size = useTerminalSize();
  const [state, setState] = useState<SearchDashState>(initialSearchState);
  // Keys can arrive faster than React re-renders: reduce against the latest state.
  const stateRef = useRef(state);
  const ctx = { runs: vm.runs.length, listLength: (s: SearchDashState) => listOf(vm.runs[s.run % vm.runs.length], s).length };

  useInput((input: string, key: Key) => {
    for (const k of keysFromInk(input, key)) {
      const r = reduceSearch(stateRef.current, k, ctx);
      stateRef.current = r.state;
      setState(r.state);
      if (r.effect === 'quit') {
        onQuit?.();
        exit();
        return;
      }
    }
  });

  // Ink writes a newline after the frame; one spare row keeps the top line from scrolling away.
  const lines = buildSearchScreen(vm, state, size.width, size.height - 1);
  return (
    <Box flexDirection="column" width={Math.max(40, size.width)}>
      {lines.map((l, k) => (
        <Text key={k} wrap="truncate-end" bold={l.bold} dimColor={l.dim} inverse={l.inverse} color={l.color}>
          {l.text || ' '}
        </Text>
      ))}
    </Box>
  );
}
