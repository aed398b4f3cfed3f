/**
 * Escaping for everything the HTML report embeds. Every user-supplied string (expert names,
 * paths, tensor names, warnings) goes through one of these before it reaches the page.
 */

const HTML_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Escape text for HTML element content *and* for quoted attribute values (both quote kinds
 * are escaped, so one function is safe in either place).
 */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]);
}

/** Attribute values: same escaping; a separate name so call sites say what they mean. */
export const escapeAttr = escapeHtml;

const JSON_SCRIPT_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/**
 * JSON text that is safe inside a `<script>` element: `<`, `>`, `&`, U+2028 and U+2029 are
 * written as \uXXXX escapes (valid JSON, same value when parsed), so a string such as
 * `</script>` or `<!--` in the data can never end or alter the script element.
 * Non-finite numbers become null (as JSON.stringify does).
 */
export function jsonForScript(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('jsonForScript: value is not JSON-serialisable');
  return text.replace(/[<>&\u2028\u2029]/g, (c) => JSON_SCRIPT_ESCAPES[c]);
}

/** A `<script type="application/json">` data block, read in the page with JSON.parse(el.textContent). */
export function jsonScriptBlock(id: string, value: unknown): string {
  return `<script type="application/json" id="${escapeAttr(id)}">${jsonForScript(value)}</script>`;
}

/**
 * Inline JavaScript source in a `<script>` element. `</script` cannot legally occur in JS
 * outside strings, regexes and comments, and in all three `<\/script` means the same thing,
 * so rewriting it is behaviour-preserving and keeps the element from closing early.
 */
export function inlineScript(source: string): string {
  return `<script>${source.replace(/<\/(script)/gi, '<\\/$1')}</script>`;
}
