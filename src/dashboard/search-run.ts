/**
 * `mergelens dashboard --search DIR/search.json [--search …]`: the search view on a terminal,
 * its plain text otherwise (pipes, CI logs).
 */
import { createElement } from 'react';
import { render } from 'ink';
import type { SearchLog } from '../report/search-load.js';
import { runLabel, searchViewModel } from '../report/search-view.js';
import { escapeControl } from '../util/terminal.js';
import { ENTER_ALT, interactiveTerminal, LEAVE_ALT } from './run.js';
import { SearchApp } from './search-app.js';
import { escapeSearchLog, searchPlainText } from './search-view-model.js';

export interface RunSearchDashboardOptions {
  logs: SearchLog[];
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
}

/** The view model the dashboard shows: every name escaped for the terminal first. */
export function searchDashboardModel(logs: SearchLog[]) {
  return searchViewModel(logs.map(escapeSearchLog), logs.map((l) => escapeControl(runLabel(l.file))));
}

export async function runSearchDashboard(opts: RunSearchDashboardOptions): Promise<void> {
  const vm = searchDashboardModel(opts.logs);
  const stdout = opts.stdout ?? process.stdout;
  const stdin = opts.stdin ?? process.stdin;
  if (!interactiveTerminal(stdout, stdin)) {
    stdout.write(searchPlainText(vm, Math.max(80, stdout.columns || 100)));
    return;
  }
  stdout.write(ENTER_ALT);
  try {
    const app = render(createElement(SearchApp, { vm }), { stdout, stdin, patchConsole: false });
    await app.waitUntilExit();
  } finally {
    stdout.write(LEAVE_ALT);
  }
}
