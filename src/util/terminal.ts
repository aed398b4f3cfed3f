/**
 * Terminal safety: names and metadata come from files we did not write (tensor names, file
 * names, metadata values, expert and metric names). Printed raw, an ESC sequence in a tensor
 * name can clear the screen, hide lines or retitle the terminal, and a bidi override can make
 * text read backwards. `escapeControl` shows every such character visibly instead, as a
 * JavaScript-style escape: C0 (U+0000–U+001F, tab and newline included), DEL, C1 (U+0080–U+009F) as `\xHH`;
 * line/paragraph separators, bidi embeddings/overrides/isolates, zero-width and BOM characters
 * as `\uHHHH`. A backslash itself is left alone, so ordinary Windows paths stay readable.
 */

// C0 controls, DEL, C1 controls; U+2028/2029 (line breaks in some terminals); bidi marks,
// embeddings, overrides and isolates; zero-width characters and the BOM/ZWNBSP.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
// Lone UTF-16 surrogates print as U+FFFD or garble the line; shown as escapes too.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** An untrusted string made safe to print: control and direction characters shown as `\x1b`, `\u202e`, … */
export function escapeControl(s: string): string {
  return s.replace(UNSAFE, escapeChar).replace(LONE_SURROGATE, escapeChar);
}

/**
 * Like escapeControl, for text that is allowed to span lines (multi-line messages we compose
 * around untrusted parts): `\n` is kept, everything else unsafe is escaped.
 */
export function escapeControlKeepNewlines(s: string): string {
  return s
    .split('\n')
    .map((line) => escapeControl(line))
    .join('\n');
}

/** Whether a string holds anything escapeControl would change. */
export function hasControl(s: string): boolean {
  UNSAFE.lastIndex = 0;
  LONE_SURROGATE.lastIndex = 0;
  const r = UNSAFE.test(s) || LONE_SURROGATE.test(s);
  UNSAFE.lastIndex = 0;
  LONE_SURROGATE.lastIndex = 0;
  return r;
}
