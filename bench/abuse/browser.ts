/**
 * A minimal browser for bench/abuse sections: a cookie jar, manual redirects and idport's own HTML forms, so a
 * section can drive the login pages over real HTTP from a chosen client address (`X-Forwarded-For`).
 */

/** A page as the browser saw it. */
export interface Page {
  readonly url: string;
  readonly status: number;
  readonly location: string | undefined;
  readonly body: string;
}

/** One HTML form: where it posts and its fields (hidden inputs and text inputs with their values). */
export interface Form {
  readonly action: string;
  readonly fields: Record<string, string>;
}

const attr = (tag: string, name: string): string | undefined => {
  const value = new RegExp(`\\s${name}="([^"]*)"`, 'i').exec(tag)?.[1];
  return value
    ?.replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
};

/** The forms of one of idport's pages (always quoted attributes). */
export const formsOf = (page: Page): Form[] =>
  [...page.body.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)].map(([, open = '', inner = '']) => {
    const fields: Record<string, string> = {};
    for (const [input] of inner.matchAll(/<input\b[^>]*>/gi)) {
      const name = attr(input, 'name');
      const type = attr(input, 'type') ?? 'text';
      if (name !== undefined && type !== 'submit' && type !== 'checkbox') fields[name] = attr(input, 'value') ?? '';
    }
    return { action: new URL(attr(open, 'action') ?? page.url, page.url).href, fields };
  });

export class Browser {
  private readonly cookies = new Map<string, string>();

  /** `address` is sent as X-Forwarded-For on every request (idport must trust 127.0.0.1 as a proxy). */
  constructor(private readonly address: string) {}

  /** One request, no redirect following. */
  async request(url: string, form?: Record<string, string>): Promise<Page> {
    const headers: Record<string, string> = { 'x-forwarded-for': this.address };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, {
      method: form === undefined ? 'GET' : 'POST',
      headers,
      body: form === undefined ? undefined : new URLSearchParams(form).toString(),
      redirect: 'manual',
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    const location = response.headers.get('location');
    return {
      url,
      status: response.status,
      location: location === null ? undefined : new URL(location, url).href,
      body: await response.text(),
    };
  }

  /** Follows redirects until a page is shown or a redirect leaves for `stopAt` (then `location` is set). */
  async follow(url: string, stopAt: string, form?: Record<string, string>): Promise<Page> {
    let page = await this.request(url, form);
    for (let hops = 0; hops < 10 && page.location !== undefined && !page.location.startsWith(stopAt); hops++)
      page = await this.request(page.location);
    return page;
  }
}

/**
 * Logs in through the pages (login form, then the approval form if shown) and returns where idport sent the browser
 * at `stopAt` (the client's redirect URI with the code), or undefined when the flow ended elsewhere.
 */
export const loginThroughPages = async (
  browser: Browser,
  authUrl: string,
  stopAt: string,
  credentials: { login: string; password: string },
): Promise<string | undefined> => {
  let page = await browser.follow(authUrl, stopAt);
  for (let step = 0; step < 3 && page.location === undefined; step++) {
    const forms = formsOf(page);
    const login = forms.find((f) => 'login' in f.fields);
    const form = login ?? forms.find((f) => 'csrf' in f.fields);
    if (form === undefined) return undefined;
    const values = login !== undefined ? credentials : { approval: 'approve' };
    page = await browser.follow(form.action, stopAt, { ...form.fields, ...values });
  }
  return page.location?.startsWith(stopAt) === true ? page.location : undefined;
};
