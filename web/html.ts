/**
 * Auto-escaping HTML templates. `html` is the only way to make a `SafeHtml`: every interpolated
 * value is escaped unless it already is `SafeHtml`, so markup cannot be injected by forgetting to
 * escape. There is deliberately no `raw()`: markup only ever comes from template literals written
 * in this repository.
 *
 * Interpolation is also checked against where it lands, because escaping alone does not make every
 * position safe:
 * - `href="${x}"`, `action="${x}"`, `formaction="${x}"`, `src="${x}"`: the value goes through
 *   `safeUrl` (http, https or relative only; `javascript:` and friends are replaced).
 * - unquoted attribute values (`a=${x}`), event handlers (`onclick="${x}"`) and `style="${x}"` are
 *   refused outright with a TypeError, since no escaping makes them safe (and CSP forbids inline
 *   styles and scripts anyway).
 */

/** Only this module holds the key, so `SafeHtml` cannot be built from a string elsewhere, not even through its prototype. */
const constructionKey: unique symbol = Symbol('SafeHtml');

/** Markup known to be safe: produced by `html`, with every interpolated value escaped. */
class SafeHtml {
  readonly #markup: string;

  /** Private by key: calling it from outside this module throws. */
  constructor(key: typeof constructionKey, markup: string) {
    if (key !== constructionKey) throw new TypeError('SafeHtml can only be made by the html`` template');
    this.#markup = markup;
  }

  /** The markup, for sending as a response body. */
  toString(): string {
    return this.#markup;
  }
}

// Only the type leaves this module: nothing outside has a reason to construct or subclass it.
export type { SafeHtml };

/** A value that can be interpolated into `html`; `false`, `null` and `undefined` render nothing so `cond && html\`…\`` works. */
export type Interpolation = string | number | SafeHtml | false | null | undefined | readonly Interpolation[];

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;', // old IE treated backticks as attribute quotes
};

/** Escapes the characters that are special in HTML text and in quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

/** Replaces URLs that `safeUrl` refuses; `about:invalid` goes nowhere when followed or submitted (as Closure Library does). */
export const REFUSED_URL = 'about:invalid#refused';

/** Any base works: it only lets relative references parse, and is never part of the output. */
const PARSE_BASE = 'https://relative.invalid/';

/**
 * Returns `url` if a browser would resolve it to an http or https URL (absolute or relative),
 * otherwise `REFUSED_URL`. Uses the WHATWG URL parser, which strips tabs, newlines and leading
 * control characters exactly as browsers do, so `java\tscript:` or ` javascript:` cannot slip by.
 */
export function safeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url, PARSE_BASE);
  } catch {
    return REFUSED_URL;
  }
  return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? url : REFUSED_URL;
}

/** Like `safeUrl` but also allows `data:image/…` for `<img src>` (logos inlined in the config; CSP allows `img-src data:`). */
export function safeImageUrl(url: string): string {
  return /^data:image\/(?:png|gif|jpeg|webp|svg\+xml)[;,]/i.test(url.trim()) ? url : safeUrl(url);
}

type HoleKind = 'text' | 'link' | 'image';

/** Per call site (a template's strings array is the same object on every call), the kind of each hole. */
const holeKinds = new WeakMap<TemplateStringsArray, readonly HoleKind[]>();

const UNQUOTED_ATTRIBUTE = /\s[^\s"'<>=/]+\s*=\s*$/;
const DANGEROUS_ATTRIBUTE = /\s(?:on[a-z]+|style|srcdoc)\s*=\s*["']$/i;
const URL_ATTRIBUTE = /\s(href|action|formaction|src)\s*=\s*(["'])$/i;
const RAW_TEXT_ELEMENT = /<(script|style)\b[^>]*>[^<]*$/i;

/** Works out what each hole of a template is, and refuses holes that cannot be made safe. */
function classifyHoles(strings: TemplateStringsArray): readonly HoleKind[] {
  const cached = holeKinds.get(strings);
  if (cached) return cached;
  let prefix = '';
  const kinds = strings.slice(0, -1).map((before, i): HoleKind => {
    prefix += before;
    // Only the literal text counts: escaped holes add no < or >, and SafeHtml holes are whole elements.
    if (RAW_TEXT_ELEMENT.test(prefix)) throw new TypeError(`html: hole ${i} is inside <script> or <style>`);
    const tagStart = prefix.lastIndexOf('<');
    if (tagStart === -1 || tagStart < prefix.lastIndexOf('>')) return 'text';
    if (UNQUOTED_ATTRIBUTE.test(before)) throw new TypeError(`html: hole ${i} is an unquoted attribute value: quote it`);
    if (DANGEROUS_ATTRIBUTE.test(before)) throw new TypeError(`html: hole ${i} is in an event handler or style attribute`);
    const url = URL_ATTRIBUTE.exec(before);
    if (!url) return 'text';
    // The scheme is decided before the first / ? or #, so text after one of those cannot change it;
    // a second hole or other text right after the checked value could ("java" + "script:…").
    const after = strings[i + 1] ?? '';
    if (!after.startsWith(url[2] ?? '"') && !/^[/?#]/.test(after)) {
      throw new TypeError(`html: URL hole ${i} must be followed by the closing quote, "/", "?" or "#"`);
    }
    return url[1]?.toLowerCase() === 'src' ? 'image' : 'link';
  });
  holeKinds.set(strings, kinds);
  return kinds;
}

function renderValue(value: Interpolation): string {
  if (value === false || value === null || value === undefined) return '';
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return (value as readonly Interpolation[]).map(renderValue).join('');
  return escapeHtml(String(value));
}

function renderUrl(value: Interpolation, kind: 'link' | 'image'): string {
  if (typeof value !== 'string') throw new TypeError('html: a URL attribute takes a string');
  return escapeHtml(kind === 'image' ? safeImageUrl(value) : safeUrl(value));
}

/** Tagged template that escapes every interpolated value (see the module comment for attribute rules). */
export function html(strings: TemplateStringsArray, ...values: readonly Interpolation[]): SafeHtml {
  const kinds = classifyHoles(strings);
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    const kind = kinds[i] ?? 'text';
    out += (kind === 'text' ? renderValue(value) : renderUrl(value, kind)) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(constructionKey, out);
}
