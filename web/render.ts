/**
 * One typed render function per page. Each takes a single page model and returns the full HTML
 * document as a string. No storage or OAuth logic here: the server decides what to show and
 * passes it in; these functions only decide how it looks.
 *
 * Every POST form carries the `csrf` token it is given. All user- and client-supplied text goes
 * through `html`, which escapes it; URLs in href/action/src go through `safeUrl`.
 */
import { REFUSED_URL, html, safeImageUrl } from './html.js';
import type { SafeHtml } from './html.js';
import { renderDocument } from './layout.js';
import type { Page } from './layout.js';
import { describeScopes } from './scopes.js';

export type { Page } from './layout.js';
export { renderDevice, renderDeviceResult, type DevicePage, type DeviceResultPage } from './device.js';

/** A connector on the chooser page. */
export interface ConnectorChoice {
  /** Display name from the connector config, e.g. "GitHub". */
  readonly name: string;
  /** Connector type (`github`, `ldap`, …); becomes a CSS class so themes can add icons. */
  readonly type: string;
  /** Where the button leads (GET `<issuer>/auth/<id>?…`). */
  readonly url: string;
}

/** The connector chooser, shown when more than one connector is configured. */
export interface LoginPage extends Page {
  readonly connectors: readonly ConnectorChoice[];
}

/** The username/password form of a password connector (local passwords, LDAP). */
export interface PasswordPage extends Page {
  /** Where the form POSTs (`<issuer>/auth/<connector>/login?…`). */
  readonly postUrl: string;
  /** Pre-filled username: the last attempt or the client's `login_hint`. Empty for none. */
  readonly username: string;
  /** Label for the username field from the connector, e.g. "Email address". */
  readonly usernamePrompt: string;
  /** The last attempt failed; shows a generic message that does not say which field was wrong. */
  readonly invalid: boolean;
  /** Sent back as the hidden `csrf` field. */
  readonly csrfToken: string;
  /** The "Remember me" checkbox (`remember_me=on`); absent means not shown. */
  readonly rememberMe?: { readonly shown: boolean; readonly checked: boolean };
  /** Link back to the connector chooser, when there is more than one connector. */
  readonly backUrl?: string;
}

/** The consent page. */
export interface ApprovalPage extends Page {
  /** The requesting client's display name (client-supplied text). */
  readonly clientName: string;
  /** The client's logo, if it registered one. */
  readonly clientLogoUrl?: string;
  /** Requested scopes, as sent by the client. */
  readonly scopes: readonly string[];
  /** Display names of peer clients for `audience:server:client_id:<id>` scopes, by client id. */
  readonly clientNames?: Readonly<Record<string, string>>;
  /** Where the form POSTs (`<issuer>/approval`). */
  readonly postUrl: string;
  /** The auth request id, sent back as the hidden `req` field. */
  readonly authReqId: string;
  /** Sent back as the hidden `csrf` field. */
  readonly csrfToken: string;
  /** The email (or name) of the logged-in user; with it the page offers to switch account. */
  readonly signedInAs?: string;
  /** A device login: the code the device showed, so the user can check it is the one on their own screen. */
  readonly userCode?: string;
}

/** The out-of-band page for `urn:ietf:wg:oauth:2.0:oob` clients: the user copies the code by hand. */
export interface OobPage extends Page {
  /** The authorization code to show. */
  readonly code: string;
}

/** A user-facing error: what happened and what to do next. Details belong in the log, never on the page. */
export interface ErrorPage extends Page {
  /** Plain language ("This login link has expired"), not an HTTP phrase or an OAuth error code. */
  readonly title: string;
  /** What happened. */
  readonly message: string;
  /** What the user can do, when `message` does not say it already. */
  readonly next?: string;
  /** The response's `x-request-id`, for a support request. */
  readonly requestId?: string;
  /** A way back, e.g. to the login form after too many attempts. */
  readonly back?: { readonly url: string; readonly text: string };
}

/** OAuth 2.0 Form Post Response Mode: the authorization response as an auto-submitted POST form. */
export interface FormPostPage extends Page {
  /** The client's verified redirect URI. */
  readonly redirectUri: string;
  /** Response parameters (`code`, `state`, `iss`, …); undefined entries are left out. */
  readonly params: Readonly<Record<string, string | undefined>>;
}

/** Asks the user to confirm logging out, so a cross-site link alone cannot end a session. */
export interface LogoutPage extends Page {
  /** Where the form POSTs. */
  readonly postUrl: string;
  /** Sent back as the hidden `csrf` field. */
  readonly csrfToken: string;
  /** Where "Stay logged in" leads; no link when absent. */
  readonly cancelUrl?: string;
  /** The email (or name) of the user whose session would end. */
  readonly signedInAs?: string;
}

/** Shown after logging out when there is no client to return to, or as a way back to it. */
export interface LoggedOutPage extends Page {
  /** A verified post-logout redirect URI to offer as a link. */
  readonly returnUrl?: string;
  /** The client's name for the return link. */
  readonly clientName?: string;
}

/** A hidden form field. */
function hidden(name: string, value: string): SafeHtml {
  return html`<input type="hidden" name="${name}" value="${value}">`;
}

/** Renders the connector chooser: one link per connector (plain GET, so it works without JavaScript). */
export function renderLogin(page: LoginPage): string {
  const body = html`<h1>Log in to ${page.issuerName}</h1>
${
  page.connectors.length === 0
    ? html`<p class="muted">No login methods are configured.</p>`
    : html`<ul class="connectors">
${page.connectors.map(
  (
    c,
  ) => html`<li><a class="button button-secondary connector connector-${c.type}" href="${c.url}">Log in with ${c.name}</a></li>
`,
)}</ul>`
}`;
  return renderDocument({ page, title: 'Log in', body });
}

/** "Signed in as …", with the button that switches account when one is given. */
function signedIn(who: string | undefined, switchButton?: SafeHtml): SafeHtml | false {
  if (who === undefined || who === '') return false;
  return html`<div class="signed-in"><p>Signed in as <strong>${who}</strong></p>${switchButton ?? false}</div>`;
}

/** Renders the username/password form. */
export function renderPassword(page: PasswordPage): string {
  const error = 'login-error';
  const invalid = page.invalid && html` aria-invalid="true" aria-describedby="${error}"`;
  // Focus where the user has to type next: the password when the username is already known.
  const focusLogin = page.username === '' && html` autofocus`;
  const focusPassword = page.username !== '' && html` autofocus`;
  const remember = page.rememberMe?.shown === true && page.rememberMe;
  const body = html`<h1>Log in to ${page.issuerName}</h1>
${page.invalid && html`<p id="${error}" class="alert" role="alert">Invalid username or password.</p>`}
<form method="post" action="${page.postUrl}" class="form">
${hidden('csrf', page.csrfToken)}
<div class="field">
<label for="login">${page.usernamePrompt === '' ? 'Username' : page.usernamePrompt}</label>
<input id="login" name="login" type="text" value="${page.username}" autocomplete="username" autocapitalize="none" spellcheck="false" required${focusLogin}${invalid}>
</div>
<div class="field">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${focusPassword}${invalid}>
</div>
${
  remember &&
  html`<div class="field field-checkbox">
<input id="remember_me" name="remember_me" type="checkbox"${remember.checked && html` checked`}>
<label for="remember_me">Remember me</label>
</div>`
}
<button type="submit" class="button button-primary">Log in</button>
</form>
${page.backUrl !== undefined && html`<p class="back"><a href="${page.backUrl}">Choose another login method</a></p>`}`;
  return renderDocument({ page, title: 'Log in', body });
}

/** Renders the consent page: what the client asks for, and one form with "approve" and "rejected" buttons. */
export function renderApproval(page: ApprovalPage): string {
  const scopes = describeScopes(page.scopes, page.clientNames);
  // A refused logo URL would only draw a broken image, so leave the logo out instead.
  const logo = page.clientLogoUrl ?? '';
  const showLogo = logo !== '' && safeImageUrl(logo) !== REFUSED_URL;
  // Outside the approval form in the markup, but submitted with it (`form=`): one form, so one CSRF token and req.
  const switchButton = html`<button type="submit" form="approval-form" name="approval" value="switch" class="link-button">Switch account</button>`;
  const body = html`<h1>Grant access</h1>
${signedIn(page.signedInAs, switchButton)}
${
  page.userCode !== undefined &&
  html`<div class="user-code-check"><p>Device code</p><p class="user-code">${page.userCode}</p>
<p class="muted">Continue only if this is the code your device shows. If you did not start this login, press Cancel.</p></div>`
}
<div class="client">
${showLogo && html`<img class="client-logo" src="${logo}" alt="" width="48" height="48">`}
<p><strong class="client-name">${page.clientName}</strong> would like to:</p>
</div>
<ul class="scopes">
${scopes.map((s) =>
  s.kind === 'known'
    ? html`<li>${s.description}</li>
`
    : html`<li><code>${s.scope}</code></li>
`,
)}</ul>
<form id="approval-form" method="post" action="${page.postUrl}" class="form">
${hidden('req', page.authReqId)}
${hidden('csrf', page.csrfToken)}
<div class="actions">
<button type="submit" name="approval" value="approve" class="button button-primary">Grant access</button>
<button type="submit" name="approval" value="rejected" class="button button-secondary">Cancel</button>
</div>
</form>`;
  return renderDocument({ page, title: 'Grant access', body });
}

/** Renders the out-of-band code page. */
export function renderOob(page: OobPage): string {
  const body = html`<h1>Login successful</h1>
<p id="oob-instructions">Copy this code, switch to your application and paste it there:</p>
<pre class="oob-code" aria-describedby="oob-instructions" tabindex="0"><code>${page.code}</code></pre>
<p class="muted">Keep it secret: it can be used only once, and only for a few minutes.</p>`;
  return renderDocument({ page, title: 'Login successful', body });
}

/** Renders a generic error page. */
export function renderError(page: ErrorPage): string {
  const body = html`<h1>${page.title}</h1>
<p class="alert" role="alert">${page.message}</p>
${page.next !== undefined && html`<p>${page.next}</p>`}
${page.back !== undefined && html`<p class="back"><a href="${page.back.url}">${page.back.text}</a></p>`}
${
  page.requestId !== undefined &&
  html`<p class="request-id muted">If you contact support, give them this request ID: <code>${page.requestId}</code></p>`
}`;
  return renderDocument({ page, title: page.title, body });
}

/**
 * Renders the form_post response (OAuth 2.0 Form Post Response Mode). static/form-post.js submits
 * it on load; the button inside `<noscript>` lets users without JavaScript continue by hand.
 */
export function renderFormPost(page: FormPostPage): string {
  const fields = Object.entries(page.params).flatMap(([name, value]) =>
    value === undefined ? [] : [hidden(name, value)],
  );
  const body = html`<h1>Returning to the application</h1>
<form method="post" action="${page.redirectUri}" class="form">
${fields}
<noscript>
<p>JavaScript is turned off. Press Continue to return to the application.</p>
<button type="submit" class="button button-primary">Continue</button>
</noscript>
</form>`;
  return renderDocument({ page, title: 'Returning to the application', body, script: 'form-post.js' });
}

/** Renders the logout confirmation page. */
export function renderLogout(page: LogoutPage): string {
  const body = html`<h1>Log out of ${page.issuerName}?</h1>
${signedIn(page.signedInAs)}
${page.signedInAs !== undefined && html`<p class="muted">To use another account, log out first, then log in again.</p>`}
<form method="post" action="${page.postUrl}" class="form">
${hidden('csrf', page.csrfToken)}
<div class="actions">
<button type="submit" class="button button-primary">Log out</button>
${page.cancelUrl !== undefined && html`<a class="button button-secondary" href="${page.cancelUrl}">Stay logged in</a>`}
</div>
</form>`;
  return renderDocument({ page, title: 'Log out', body });
}

/** Renders the page shown after logging out. */
export function renderLoggedOut(page: LoggedOutPage): string {
  const body = html`<h1>You have logged out</h1>
<p>You are no longer logged in to ${page.issuerName}.</p>
${page.returnUrl !== undefined && html`<p class="back"><a href="${page.returnUrl}">Return to ${page.clientName ?? 'the application'}</a></p>`}`;
  return renderDocument({ page, title: 'Logged out', body });
}
