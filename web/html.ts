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
 * - unquoted attribute values (`a=${x}`), event handlers (`onclick="${x}"`), `style="${x}"` and
 *   `<script>`/`<style>` content are refused outright with a TypeError, since no escaping makes them
 *   safe (and the CSP forbids inline styles and scripts anyway).
 * - between attributes (`<input${x}>`) only SafeHtml is accepted, never a string.
 * Misplaced holes throw on the first render of that template, so the page tests catch them.
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

/**
 * Where a hole is: `text` (element content, or inside a quoted attribute value), `attributes`
 * (inside a tag, between attributes: only SafeHtml such as html` checked` may go there, since a
 * plain string like `autofocus onfocus=alert(1)` needs no special characters to add a handler),
 * or the start of a URL attribute value (`link`, `image`).
 */
type HoleKind = 'text' | 'attributes' | 'link' | 'image';

/** Per call site (a template's strings array is the same object on every call), the kind of each hole. */
const holeKinds = new WeakMap<TemplateStringsArray, readonly HoleKind[]>();

/** The attribute whose quoted value is still open at the end of a tag's text: name, then the value so far. */
const OPEN_VALUE = /\s([^\s"'<>=/]+)\s*=\s*(?:"([^"]*)|'([^']*))$/;
const SCRIPT_ATTRIBUTE = /^(?:on.*|style|srcdoc)$/i;
const URL_ATTRIBUTES = new Set(['href', 'action', 'formaction', 'src']);
const RAW_TEXT_ELEMENT = /<(script|style)\b[^>]*>[^<]*$/i;

/**
 * Classifies one hole from the literal text before it (`prefix`) and right after it (`after`).
 * Only literal text counts: escaped holes add no quotes or angle brackets, and SafeHtml holes are
 * whole elements or whole attributes.
 */
function classifyHole(prefix: string, after: string, i: number): HoleKind {
  if (RAW_TEXT_ELEMENT.test(prefix)) throw new TypeError(`html: hole ${i} is inside <script> or <style>`);
  const tagStart = prefix.lastIndexOf('<');
  if (tagStart === -1 || tagStart < prefix.lastIndexOf('>')) return 'text';
  const tag = prefix.slice(tagStart);
  const open = OPEN_VALUE.exec(tag);
  if (!open) {
    if (/=\s*$/.test(tag)) throw new TypeError(`html: hole ${i} is an unquoted attribute value: quote it`);
    return 'attributes';
  }
  const name = (open[1] ?? '').toLowerCase();
  const quote = open[2] === undefined ? "'" : '"';
  const valueSoFar = open[2] ?? open[3] ?? '';
  if (SCRIPT_ATTRIBUTE.test(name)) throw new TypeError(`html: hole ${i} is in an event handler or style attribute`);
  if (!URL_ATTRIBUTES.has(name)) return 'text';
  // A URL's scheme is settled by the first of : / ? #. Text before the hole that contains one was
  // written here, so the hole cannot change the scheme; otherwise the hole must be checked itself.
  if (valueSoFar !== '') {
    if (!/[:/?#]/.test(valueSoFar)) throw new TypeError(`html: hole ${i} could change the scheme of the ${name} URL`);
    return 'text';
  }
  // Likewise what follows a checked value must not extend its scheme ("java" + "script:…").
  if (!after.startsWith(quote) && !/^[/?#]/.test(after)) {
    throw new TypeError(`html: URL hole ${i} must be followed by the closing quote, "/", "?" or "#"`);
  }
  return name === 'src' ? 'image' : 'link';
}

function classifyHoles(strings: TemplateStringsArray): readonly HoleKind[] {
  const cached = holeKinds.get(strings);
  if (cached) return cached;
  let prefix = '';
  const kinds = strings.slice(0, -1).map((before, i) => {
    prefix += before;
    return classifyHole(prefix, strings[i + 1] ?? '', i);
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

function renderAttributes(value: Interpolation): string {
  if (value === false || value === null || value === undefined) return '';
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return (value as readonly Interpolation[]).map(renderAttributes).join('');
  throw new TypeError('html: only html`` attributes may be placed between attributes, not a string');
}

function renderUrl(value: Interpolation, kind: 'link' | 'image'): string {
  if (typeof value !== 'string') throw new TypeError('html: a URL attribute takes a string');
  return escapeHtml(kind === 'image' ? safeImageUrl(value) : safeUrl(value));
}

function renderHole(value: Interpolation, kind: HoleKind): string {
  switch (kind) {
    case 'text':
      return renderValue(value);
    case 'attributes':
      return renderAttributes(value);
    case 'link':
    case 'image':
      return renderUrl(value, kind);
  }
}

/** Tagged template that escapes every interpolated value (see the module comment for attribute rules). */
export function html(strings: TemplateStringsArray, ...values: readonly Interpolation[]): SafeHtml {
  // Template literals hand over frozen arrays; refusing anything else keeps html([userText]) from becoming a raw().
  if (!Object.isFrozen(strings) || !Array.isArray(strings.raw))
    throw new TypeError('html must be used as a tagged template');
  const kinds = classifyHoles(strings);
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += renderHole(value, kinds[i] ?? 'text') + (strings[i + 1] ?? '');
  });
  return new SafeHtml(constructionKey, out);
}
