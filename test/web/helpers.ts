/**
 * Small HTML inspection helpers for the web tests. A regex reading is enough here because the
 * templates always double-quote attributes and escape `"` inside them, which the tests also check.
 */
import type { Page } from '../../web/render.js';

/** A value that breaks out of text, of a double-quoted and of a single-quoted attribute if it is not escaped. */
export const HOSTILE = `<script>alert(1)</script>"onmouseover="alert(2)'x='\`<img src=x onerror=alert(3)>&amp;`;

/** A URL that runs script when followed. */
export const JS_URL = 'javascript:alert(document.domain)';

/** The common page model with an issuer under `/dex`. */
export const basePage: Page = { issuerName: 'Acme ID', logoUrl: '', theme: 'light', basePath: '/dex' };

/** The attributes of one start tag, values with entities decoded. */
export type Attributes = Record<string, string>;

const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#39;': "'",
  '&#96;': '`',
};

/** Decodes the entities the templates produce. */
export function unescapeHtml(text: string): string {
  return text.replace(/&(?:amp|lt|gt|quot|#39|#96);/g, (e) => ENTITIES[e] ?? e);
}

/** Every start tag `<name …>` in the document, with its attributes. */
export function tags(document: string, name: string): Attributes[] {
  const found: Attributes[] = [];
  for (const match of document.matchAll(new RegExp(`<${name}\\b([^>]*)>`, 'gi'))) {
    const attributes: Attributes = {};
    for (const attribute of (match[1] ?? '').matchAll(/([^\s="'<>/]+)(?:="([^"]*)")?/g)) {
      attributes[(attribute[1] ?? '').toLowerCase()] = unescapeHtml(attribute[2] ?? '');
    }
    found.push(attributes);
  }
  return found;
}

/** The text between `<main …>` and `</main>`, with tags removed and entities decoded. */
export function mainText(document: string): string {
  const main = /<main\b[^>]*>([\s\S]*)<\/main>/.exec(document)?.[1] ?? '';
  return unescapeHtml(main.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ')).trim();
}
