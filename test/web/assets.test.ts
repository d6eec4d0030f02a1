import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { securityHeaders, staticDir, themeDir, themeExists, themesDir } from '../../web/assets.js';

describe('asset paths', () => {
  it('point at the static files the pages link to', () => {
    for (const file of ['main.css', 'form-post.js', 'favicon.svg', 'img/idport-logo.svg']) {
      assert.ok(existsSync(join(staticDir, file)), file);
    }
  });

  it("knows Dex's light and dark themes, each with styles.css and logo.svg", () => {
    for (const theme of ['light', 'dark']) {
      assert.equal(themeExists(theme), true);
      assert.equal(themeDir(theme), join(themesDir, theme));
      assert.ok(existsSync(join(themeDir(theme), 'logo.svg')));
    }
  });

  it('rejects unknown theme names and path tricks', () => {
    for (const name of ['purple', '', '.', '..', '../light', 'light/', 'light/../dark', '/etc']) {
      assert.equal(themeExists(name), false, name);
    }
    assert.throws(() => themeDir('../static'), /unknown theme "..\/static"/);
  });

  it('form-post.js submits the first form once the document is parsed', () => {
    const script = readFileSync(join(staticDir, 'form-post.js'), 'utf8');
    assert.match(script, /DOMContentLoaded/);
    assert.match(script, /document\.forms\[0\]/);
  });
});

describe('securityHeaders', () => {
  it('sends a strict CSP and the anti-framing, no-sniff, no-referrer and no-store headers', () => {
    assert.deepEqual(securityHeaders(), {
      'Content-Security-Policy':
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; " +
        "form-action 'self' https: http:; base-uri 'none'; frame-ancestors 'none'",
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
    });
  });

  it('adds the scheme of a native-app redirect URI to form-action', () => {
    const csp = securityHeaders({ redirectUri: 'com.example.app:/oauth2redirect' })['Content-Security-Policy'];
    assert.match(csp ?? '', /form-action 'self' https: http: com\.example\.app:;/);
  });

  it('never adds http/https twice, script-capable schemes, or unparsable values to form-action', () => {
    for (const redirectUri of [
      'https://app.example/cb',
      'http://localhost/cb',
      'javascript:alert(1)',
      'data:text/html,x',
      'not a url; script-src *',
    ]) {
      assert.match(
        securityHeaders({ redirectUri })['Content-Security-Policy'] ?? '',
        /form-action 'self' https: http:;/,
        redirectUri,
      );
    }
  });

  it('returns a fresh object each time, so a caller can change its copy', () => {
    const first = securityHeaders();
    first['Cache-Control'] = 'public';
    assert.equal(securityHeaders()['Cache-Control'], 'no-store');
  });
});
