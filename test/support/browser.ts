/**
 * A minimal browser for tests: follows redirects with a cookie jar, reads HTML forms and submits them,
 * so tests drive idport's pages over real HTTP as a user would.
 */
import assert from 'node:assert/strict';
import { DEMO_PASSWORD, demoUser } from './idport.js';
import { testFetch } from './in-process.js';

/** One HTML form found on a page: where it posts and its fields (hidden inputs and named buttons). */
export interface HtmlForm {
  readonly action: string;
  readonly method: string;
  readonly fields: Record<string, string>;
}

export interface Page {
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

const decodeEntities = (value: string): string =>
  value
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#x60;|&#96;/g, '`')
    .replace(/&amp;/g, '&');

const attr = (tag: string, name: string): string | undefined => {
  const match = new RegExp(`\\s${name}="([^"]*)"`, 'i').exec(tag);
  return match?.[1] === undefined ? undefined : decodeEntities(match[1]);
};

/** Parses the forms of a page (tests only: idport's own markup, always quoted attributes). */
export const formsOf = (page: Page): HtmlForm[] => {
  const forms: HtmlForm[] = [];
  for (const match of page.body.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const [, open = '', inner = ''] = match;
    const fields: Record<string, string> = {};
    for (const input of inner.matchAll(/<input\b[^>]*>/gi)) {
      const name = attr(input[0], 'name');
      const type = attr(input[0], 'type') ?? 'text';
      if (name === undefined || type === 'submit' || type === 'checkbox') continue;
      fields[name] = attr(input[0], 'value') ?? '';
    }
    forms.push({
      action: new URL(attr(open, 'action') ?? page.url, page.url).href,
      method: (attr(open, 'method') ?? 'get').toLowerCase(),
      fields,
    });
  }
  return forms;
};

export class Browser {
  /** Cookies by `path` + name. Like a real browser, cookies are shared across ports of one host, scoped by Path. */
  private readonly cookies = new Map<string, { name: string; value: string; path: string }>();

  /** A cookie's value by name (the first path that has one). */
  cookie(name: string): string | undefined {
    for (const c of this.cookies.values()) if (c.name === name) return c.value;
    return undefined;
  }

  /** Plants a cookie, as an attacker with a foothold on the site could (session fixation tests). */
  setCookie(name: string, value: string, path: string): void {
    this.cookies.set(`${path} ${name}`, { name, value, path });
  }

  clearCookies(): void {
    this.cookies.clear();
  }

  private store(headers: Headers, url: string): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const pathAttribute = attributes.map((a) => a.trim()).find((a) => /^path=/i.test(a));
      const path = pathAttribute?.slice(5) || new URL(url).pathname.replace(/\/[^/]*$/, '') || '/';
      const key = `${path} ${name}`;
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line) || value === '') this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path });
    }
  }

  private cookieHeader(url: string): string | undefined {
    const path = new URL(url).pathname;
    const matching = [...this.cookies.values()].filter(
      (c) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`),
    );
    return matching.length === 0 ? undefined : matching.map((c) => `${c.name}=${c.value}`).join('; ');
  }

  /** One request, no redirect following. */
  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<Page> {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    const cookie = this.cookieHeader(url);
    if (cookie !== undefined) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form !== undefined) {
      body = new URLSearchParams(init.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const response = await testFetch(url, {
      method: init.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body,
      redirect: 'manual',
    });
    this.store(response.headers, url);
    return { url, status: response.status, headers: response.headers, body: await response.text() };
  }

  /**
   * Follows redirects from `url` until one leaves idport for `stopAt` (the client's redirect URI) or a page
   * is shown. Returns the final page, or the redirect location that reached `stopAt`.
   */
  async follow(
    url: string,
    stopAt: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<{ page: Page; location?: string }> {
    let page = await this.request(url, init);
    for (let hops = 0; hops < 20; hops++) {
      const location = page.headers.get('location');
      if (page.status < 300 || page.status >= 400 || location === null) return { page };
      const next = new URL(location, page.url).href;
      if (next.startsWith(stopAt)) return { page, location: next };
      page = await this.request(next);
    }
    throw new Error('too many redirects');
  }

  /** Submits a form with extra field values. */
  async submit(
    form: HtmlForm,
    values: Record<string, string>,
    stopAt: string,
  ): Promise<{ page: Page; location?: string }> {
    return this.follow(form.action, stopAt, { method: form.method.toUpperCase(), form: { ...form.fields, ...values } });
  }
}

/** Drives the browser from the authorization URL through the password form and the approval page. */
export const loginThroughPages = async (
  browser: Browser,
  authorizationUrl: URL | string,
  stopAt: string,
  credentials = { login: demoUser.email, password: DEMO_PASSWORD },
): Promise<string> => {
  let step = await browser.follow(authorizationUrl.toString(), stopAt);
  for (let i = 0; i < 5 && step.location === undefined; i++) {
    const [form] = formsOf(step.page);
    assert.ok(
      form,
      `expected a form on ${step.page.url} (status ${step.page.status}): ${step.page.body.slice(0, 300)}`,
    );
    const values: Record<string, string> =
      'csrf' in form.fields && 'req' in form.fields ? { approval: 'approve' } : credentials;
    step = await browser.submit(form, values, stopAt);
  }
  assert.ok(step.location, 'the flow ended at the client redirect');
  return step.location;
};
