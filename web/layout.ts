/**
 * The document shell every page shares: head, stylesheets, branding header and footer.
 * Pages never write `<html>` or `<head>` themselves, so the CSP-relevant rules (no inline
 * script or style) and the accessibility basics live in one place.
 */
import { html } from './html.js';
import type { Interpolation } from './html.js';

/** What every page shows and needs: the issuer's branding, and where its assets are served. */
export interface Page {
  /** Shown in titles and headings (Dex `frontend.issuer`). */
  readonly issuerName: string;
  /** Logo URL (Dex `frontend.logoURL`); an empty string means the theme's own `logo.svg`. */
  readonly logoUrl: string;
  /** Theme name (`light`, `dark`, …); the server mounts that theme's folder at `<basePath>/theme/`. */
  readonly theme: string;
  /** Issuer path prefix used for asset URLs, e.g. `/dex`, or `''` when the issuer is at the host root. */
  readonly basePath: string;
}

/** Scripts in web/static that a page may load; listed so a page cannot ask for an arbitrary URL. */
export type StaticScript = 'form-post.js';

/** What a page puts into the shell. */
export interface DocumentParts {
  readonly page: Page;
  /** The `<title>` text, without the issuer name (added here). */
  readonly title: string;
  /** The contents of `<main>`. */
  readonly body: Interpolation;
  /** An external script from web/static; inline scripts are forbidden by the CSP (`script-src 'self'`). */
  readonly script?: StaticScript;
  /** A wider card, for pages that show URLs and snippets (the landing page). */
  readonly wide?: boolean;
}

/**
 * The issuer path without trailing slashes. Without this, a base path of `/` would produce
 * `//static/main.css`, which browsers read as a URL on the host "static".
 */
export function assetBase(basePath: string): string {
  return basePath.replace(/\/+$/, '');
}

/** Renders a full HTML document around a page body. */
export function renderDocument({ page, title, body, script, wide = false }: DocumentParts): string {
  const base = assetBase(page.basePath);
  const logo = page.logoUrl === '' ? `${base}/theme/logo.svg` : page.logoUrl;
  // Lets the browser draw form controls and scrollbars to match the theme before CSS loads.
  const colorScheme = page.theme === 'dark' ? 'dark' : 'light';
  const document = html`<!doctype html>
<html lang="en" data-theme="${page.theme}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="${colorScheme}">
<meta name="robots" content="noindex, nofollow">
<title>${title} – ${page.issuerName}</title>
<link rel="icon" href="${base}/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${base}/static/main.css">
<link rel="stylesheet" href="${base}/theme/styles.css">
${script !== undefined && html`<script src="${base}/static/${script}" defer></script>`}
</head>
<body>
<header class="brand">
<img class="brand-logo" src="${logo}" alt="" width="40" height="40">
<span class="brand-name">${page.issuerName}</span>
</header>
<main class="${wide ? 'card card-wide' : 'card'}">
${body}
</main>
<footer class="footer">Secured by idport</footer>
</body>
</html>
`;
  return document.toString();
}
