/**
 * Where the web assets live on disk, and the HTTP headers every HTML page is sent with.
 * The server mounts `staticDir` at `<issuer path>/static/` and `themeDir(theme)` at `<issuer path>/theme/`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of web/static (CSS, form-post.js, images). */
export const staticDir = fileURLToPath(new URL('./static', import.meta.url));

/** Absolute path of web/themes, one folder per theme. */
export const themesDir = fileURLToPath(new URL('./themes', import.meta.url));

/** Theme names are folder names taken from config: allowing only these characters rules out `..` and slashes. */
const THEME_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** True if `name` is a theme folder with a styles.css (Dex's themes are `light` and `dark`). */
export function themeExists(name: string): boolean {
  return THEME_NAME.test(name) && existsSync(join(themesDir, name, 'styles.css'));
}

/** Absolute path of one theme's folder; throws for a theme that does not exist, so config errors show at startup. */
export function themeDir(name: string): string {
  if (!themeExists(name))
    throw new Error(`unknown theme ${JSON.stringify(name)}: no ${join(themesDir, name, 'styles.css')}`);
  return join(themesDir, name);
}

/** Options for `securityHeaders`. */
export interface SecurityHeaderOptions {
  /**
   * The client redirect URI a form on this page may end up at. Only needed when it uses a
   * scheme other than http/https (a native app's `com.example.app:/callback`): its scheme is
   * then added to `form-action`. Ignored when it does not parse as an absolute URL.
   */
  readonly redirectUri?: string;
}

/** Schemes browsers treat as a new origin are safe to name in CSP; others (data:, javascript:, blob:) never belong in form-action. */
const FORBIDDEN_FORM_SCHEMES = new Set(['javascript:', 'data:', 'blob:', 'filesystem:', 'about:']);

/**
 * `form-action` sources for a page. It must allow http and https, not just 'self':
 * - the form_post page POSTs straight to the client's redirect URI, on another origin;
 * - CSP3 (and Chromium) also apply form-action to redirects that follow a form submission, so the
 *   password and approval forms, whose POST is answered with a 303 to the client's redirect URI,
 *   would be blocked at the last step with 'self' alone.
 * Allowing them costs little: an injected form is what form-action defends against, and every value
 * on these pages is escaped.
 */
function formActionSources(redirectUri: string | undefined): string {
  const sources = ["'self'", 'https:', 'http:'];
  if (redirectUri !== undefined && URL.canParse(redirectUri)) {
    const scheme = new URL(redirectUri).protocol;
    // The parser lowercases the scheme and keeps only [a-z0-9+.-], so it cannot inject a directive.
    if (!sources.includes(scheme) && !FORBIDDEN_FORM_SCHEMES.has(scheme)) sources.push(scheme);
  }
  return sources.join(' ');
}

/** The headers for every HTML page: a strict CSP, no framing, no sniffing, no referrer, no caching. */
export function securityHeaders(options: SecurityHeaderOptions = {}): Record<string, string> {
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: https:", // client and issuer logos are often hosted elsewhere
    `form-action ${formActionSources(options.redirectUri)}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return {
    'Content-Security-Policy': csp,
    'X-Frame-Options': 'DENY', // frame-ancestors for browsers that predate it (clickjacking on the consent page)
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer', // page URLs carry auth request ids and codes
    'Cache-Control': 'no-store', // pages carry CSRF tokens, codes and user names
  };
}
