/**
 * Drive the dashboard App through ink-testing-library at a chosen terminal size and read the
 * frame as plain text.
 */
import type { ReactElement } from 'react';
import { render } from 'ink-testing-library';
import { App, type AppProps } from '../../src/dashboard/App.js';

export const KEY = {
  up: '\u001B[A',
  down: '\u001B[B',
  right: '\u001B[C',
  left: '\u001B[D',
  tab: '\t',
  enter: '\r',
  escape: '\u001B',
  backspace: '\u007F',
};

// Lone ESC is resolved on setImmediate, renders follow synchronously: two macrotask turns suffice;
// a few more keep slow CI machines honest.
const settle = async () => {
  for (let k = 0; k < 3; k++) await new Promise((r) => setTimeout(r, 5));
};

const stripAnsi = (s: string) => s.replace(/\u001B\[[0-9;?]*[A-Za-z]/g, '');

export interface Mounted {
  frame(): string;
  lines(): string[];
  press(...keys: string[]): Promise<void>;
  resize(width: number, height: number): Promise<void>;
  frames(): number;
  unmount(): void;
}

export async function mount(props: AppProps, width = 80, height = 24): Promise<Mounted> {
  return mountNode(<App {...props} />, width, height);
}

/** Any dashboard view (e.g. the search view) mounted the same way. */
export async function mountNode(node: ReactElement, width = 80, height = 24): Promise<Mounted> {
  const inst = render(node);
  const m: Mounted = {
    frame: () => stripAnsi(inst.lastFrame() ?? ''),
    lines: () => m.frame().split('\n'),
    press: async (...keys) => {
      for (const k of keys) {
        inst.stdin.write(k);
        await settle();
      }
    },
    resize: async (w, h) => {
      Object.defineProperty(inst.stdout, 'columns', { value: w, configurable: true });
      Object.defineProperty(inst.stdout, 'rows', { value: h, configurable: true });
      inst.stdout.emit('resize');
      await settle();
    },
    frames: () => inst.frames.length,
    unmount: () => inst.unmount(),
  };
  await m.resize(width, height);
  return m;
}
