import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { escapeAttr, escapeHtml, inlineScript, jsonForScript, jsonScriptBlock } from '../../src/report/escape.js';

describe('escapeHtml / escapeAttr', () => {
  it('escapes the five HTML-special characters (hand case)', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
    expect(escapeHtml('<script>alert(1)</script>')).toBe('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(escapeAttr(`" onmouseover="alert(1)`)).toBe('&quot; onmouseover=&quot;alert(1)');
    expect(escapeHtml(42)).toBe('42');
  });

  it('output never contains a raw special character, and decoding it gives the input back', () => {
    const decode = (s: string) => s.replace(/&(lt|gt|quot|#39|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e]!);
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const e = escapeHtml(s);
        expect(/[<>"']/.test(e)).toBe(false);
        // every & starts one of our entities
        expect(e.replace(/&(lt|gt|quot|#39|amp);/g, '')).not.toContain('&');
        expect(decode(e)).toBe(s);
      }),
      { numRuns: 300 },
    );
  });
});

describe('jsonForScript', () => {
  const evil = { name: '</script><script>alert(1)</script>', c: '<!-- -->', amp: 'a&b', ls: 'x\u2028y\u2029z', n: [1.5, null, -0.25] };

  it('escapes <, >, &, U+2028/9 and parses back to the same value', () => {
    const text = jsonForScript(evil);
    expect(text).not.toMatch(/[<>&\u2028\u2029]/);
    expect(text).toContain('\\u003c/script\\u003e');
    expect(JSON.parse(text)).toEqual(evil);
  });

  it('round-trips arbitrary JSON values and never emits the dangerous characters', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = jsonForScript(v);
        expect(/[<>&\u2028\u2029]/.test(text)).toBe(false);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(v)));
      }),
    );
  });

  it('a data block with </script> in a string ends exactly at its own closing tag', () => {
    const block = jsonScriptBlock('data', evil);
    const open = '<script type="application/json" id="data">';
    expect(block.startsWith(open)).toBe(true);
    // The HTML parser ends a script element at the first "</script": it must be the real end.
    const end = block.toLowerCase().indexOf('</script', open.length);
    expect(end).toBe(block.length - '</script>'.length);
    expect(JSON.parse(block.slice(open.length, end))).toEqual(evil);
  });

  it('escapes the block id as an attribute', () => {
    expect(jsonScriptBlock('a"b', 1)).toBe('<script type="application/json" id="a&quot;b">1</script>');
  });
});

describe('inlineScript', () => {
  it('neutralises </script inside JS without changing what the code does', () => {
    const source = 'return ["</script>", "</SCRIPT >", /<\\/script>/.source].join("|");';
    const html = inlineScript(source);
    const inner = html.slice('<script>'.length, -'</script>'.length);
    expect(inner.toLowerCase()).not.toContain('</script');
    expect(html.toLowerCase().indexOf('</script')).toBe(html.length - '</script>'.length);
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    expect(new Function(inner)()).toBe(new Function(source)());
  });
});
