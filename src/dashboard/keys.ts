/**
 * Ink key events → the reducer's DashKey. Pasted text arrives as one multi-character input,
 * so printable input becomes one key per character.
 */
import type { Key } from 'ink';
import type { DashKey } from './state.js';

export function keysFromInk(input: string, key: Key): DashKey[] {
  if (key.upArrow) return [{ kind: 'up' }];
  if (key.downArrow) return [{ kind: 'down' }];
  if (key.leftArrow) return [{ kind: 'left' }];
  if (key.rightArrow) return [{ kind: 'right' }];
  if (key.home) return [{ kind: 'home' }];
  if (key.end) return [{ kind: 'end' }];
  if (key.tab) return [{ kind: 'tab' }];
  if (key.return) return [{ kind: 'enter' }];
  if (key.escape) return [{ kind: 'escape' }];
  // Most terminals send DEL (0x7f) for the Backspace key, which ink reports as `delete`.
  if (key.backspace || key.delete) return [{ kind: 'backspace' }];
  if (key.ctrl || key.meta || !input) return [];
  return [...input].filter((ch) => ch >= ' ' && ch !== '\u007f').map((ch) => ({ kind: 'char', ch }));
}
