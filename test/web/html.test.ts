import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REFUSED_URL, escapeHtml, html, safeImageUrl, safeUrl } from '../../web/html.js';
import type { SafeHtml } from '../../web/html.js';
import { HOSTILE, tags, unescapeHtml } from './helpers.js';

describe('html template', () => {
  it('escapes & < > " \' and backtick in interpolated text', () => {
    assert.equal(
      String(html`<p>${'<b>"x" & \'y\' `z`</b>'}</p>`),
      '<p>&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39; &#96;z&#96;&lt;/b&gt;</p>',
    );
  });

  it('escapes values in attributes so they cannot close the quote or add attributes', () => {
    const out = String(html`<input name="a" value="${HOSTILE}">`);
    assert.doesNotMatch(out, /"onmouseover=/);
    assert.doesNotMatch(out, /<script>/);
    assert.deepEqual(tags(out, 'input'), [{ name: 'a', value: HOSTILE }]);
  });

  it('escapes the same value once, however it is reached', () => {
    assert.equal(unescapeHtml(escapeHtml(HOSTILE)), HOSTILE);
  });

  it('does not escape SafeHtml again, and joins arrays', () => {
    const items = ['a<', 'b>'].map((x) => html`<li>${x}</li>`);
    assert.equal(String(html`<ul>${items}</ul>`), '<ul><li>a&lt;</li><li>b&gt;</li></ul>');
  });

  it('renders false, null and undefined as nothing and numbers as text', () => {
    assert.equal(String(html`<p>${false}${null}${undefined}${0}</p>`), '<p>0</p>');
  });

  it('does not treat an object that looks like SafeHtml as safe', () => {
    const fake = { toString: () => '<script>alert(1)</script>' } as unknown as SafeHtml;
    assert.equal(String(html`<p>${fake}</p>`), '<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>');
  });

  it('cannot construct SafeHtml from a string through its prototype', () => {
    const SafeHtmlClass = Object.getPrototypeOf(html`x`).constructor as new (key: symbol, markup: string) => SafeHtml;
    assert.throws(() => new SafeHtmlClass(Symbol('SafeHtml'), '<script>alert(1)</script>'), TypeError);
  });

  it('refuses a javascript: URL in href, action, formaction and src', () => {
    const url = 'javascript:alert(1)';
    const out = String(
      html`<a href="${url}">x</a><form action="${url}"><button formaction="${url}"></button></form><img src="${url}">`,
    );
    assert.doesNotMatch(out, /javascript:/);
    assert.equal(out.split(REFUSED_URL).length - 1, 4);
  });

  it('keeps a URL attribute safe when text follows the value after a path separator', () => {
    assert.equal(String(html`<link href="${'/dex'}/static/main.css">`), '<link href="/dex/static/main.css">');
    assert.equal(
      String(html`<link href="${'javascript:x//'}/static/main.css">`),
      `<link href="${REFUSED_URL}/static/main.css">`,
    );
  });

  it('refuses a template where text after a URL value could change its scheme', () => {
    const part = 'java';
    assert.throws(() => html`<a href="${part}${'script:alert(1)'}">x</a>`, /URL hole 0/);
    assert.throws(() => html`<a href="${part}script:alert(1)">x</a>`, /URL hole 0/);
  });

  it('refuses holes in unquoted attributes, event handlers, style attributes and script elements', () => {
    const v = 'x';
    assert.throws(() => html`<input value=${v}>`, /unquoted/);
    assert.throws(() => html`<a onclick="${v}">x</a>`, /event handler or style/);
    assert.throws(() => html`<p style="${v}">x</p>`, /event handler or style/);
    assert.throws(() => html`<script>var x = "${v}";</script>`, /inside <script>/);
  });

  it('allows = in text content before a hole', () => {
    assert.equal(String(html`<p>a = ${'<b>'}</p>`), '<p>a = &lt;b&gt;</p>');
  });
});

describe('safeUrl', () => {
  for (const url of [
    'https://app.example/cb?x=1',
    'http://localhost:5555/callback',
    '/dex/auth?x=1',
    'auth/local',
    '?a=b',
    '#top',
    '',
    '//cdn.example/logo.png',
  ]) {
    it(`allows ${JSON.stringify(url)}`, () => assert.equal(safeUrl(url), url));
  }
  for (const url of [
    'javascript:alert(1)',
    'JavaScript:alert(1)',
    ' javascript:alert(1)',
    'java\tscript:alert(1)',
    'java\nscript:alert(1)',
    '\u0001javascript:alert(1)',
    'vbscript:msgbox(1)',
    'data:text/html,<script>alert(1)</script>',
    'data:image/png;base64,AAAA',
    'file:///etc/passwd',
    'http://[::1',
  ]) {
    it(`refuses ${JSON.stringify(url)}`, () => assert.equal(safeUrl(url), REFUSED_URL));
  }

  it('allows data:image URLs for images only', () => {
    assert.equal(safeImageUrl('data:image/png;base64,AAAA'), 'data:image/png;base64,AAAA');
    assert.equal(safeImageUrl('data:text/html,<script>alert(1)</script>'), REFUSED_URL);
    assert.equal(safeImageUrl('javascript:alert(1)'), REFUSED_URL);
  });
});

describe('html template misuse', () => {
  it('accepts html`` attributes between attributes but refuses a string there', () => {
    assert.equal(String(html`<input${html` checked`}>`), '<input checked>');
    const injected: string = 'autofocus onfocus=alert(1)';
    assert.throws(() => html`<input ${injected}>`, /not a string/);
    assert.throws(() => html`<${injected}>`, /not a string/);
  });

  it('refuses a hole inside an event handler even after other text', () => {
    assert.throws(() => html`<a onclick="go(${'x'})">x</a>`, /event handler or style/);
  });

  it('refuses a hole in a URL when the literal before it has not settled the scheme', () => {
    assert.throws(() => html`<a href="java${'script:alert(1)'}">x</a>`, /could change the scheme/);
    assert.equal(String(html`<a href="/users/${'a b?c'}">x</a>`), '<a href="/users/a b?c">x</a>');
  });

  it('handles single-quoted URL attributes', () => {
    assert.equal(String(html`<a href='${'javascript:alert(1)'}'>x</a>`), `<a href='${REFUSED_URL}'>x</a>`);
  });

  it('cannot be called with a plain array to skip escaping', () => {
    const fake = Object.assign(['<script>alert(1)</script>'], { raw: ['<script>alert(1)</script>'] });
    assert.throws(() => html(fake as unknown as TemplateStringsArray), /tagged template/);
  });
});
