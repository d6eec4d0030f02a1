// The example app's HTML. Every value from a token or a setting goes through `escape`.

const escape = (value) =>
  String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

const STYLE = `
:root { color-scheme: light dark; --bg: #f4f5f8; --card: #fff; --text: #1d2330; --muted: #5b6475; --border: #d5d9e2;
  --primary: #3d55d9; --primary-text: #fff; --code: #f0f2f7; }
@media (prefers-color-scheme: dark) { :root { --bg: #0f1218; --card: #181c25; --text: #e6e9f0; --muted: #9aa3b5;
  --border: #2e3544; --primary: #7186f5; --primary-text: #0b0e14; --code: #11151c; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 2rem 1rem; background: var(--bg); color: var(--text); line-height: 1.5;
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
main { max-width: 48rem; margin: 0 auto; padding: 1.5rem; background: var(--card); border: 1px solid var(--border);
  border-radius: 12px; }
h1 { margin-top: 0; font-size: 1.4rem; } h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
.muted { color: var(--muted); } a { color: var(--primary); }
label { display: block; font-weight: 600; font-size: .9rem; margin-bottom: .25rem; }
input[type=text] { width: 100%; padding: .55rem .7rem; font: inherit; color: var(--text); background: var(--bg);
  border: 1px solid var(--border); border-radius: 8px; margin-bottom: .75rem; }
button { padding: .55rem 1.1rem; font: inherit; font-weight: 600; border-radius: 8px; cursor: pointer;
  color: var(--primary-text); background: var(--primary); border: 1px solid var(--primary); }
button.secondary { color: var(--text); background: var(--card); border-color: var(--border); }
.actions { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0; } .actions form { margin: 0; }
pre { margin: 0 0 1rem; padding: .75rem; overflow-x: auto; font-size: .8rem; background: var(--code);
  border: 1px solid var(--border); border-radius: 8px; white-space: pre-wrap; word-break: break-all; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; font-size: .9rem; }
dt { font-weight: 600; } dd { margin: 0; overflow-wrap: anywhere; }
`;

const page = (title, body) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} – idport example app</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;

const loginForm = (scopes, label) => `<form method="post" action="/login">
<label for="scope">Scopes</label>
<input id="scope" name="scope" type="text" value="${escape(scopes)}" spellcheck="false">
<label for="connector_id">Connector (optional, e.g. local)</label>
<input id="connector_id" name="connector_id" type="text" value="" spellcheck="false">
<button type="submit">${escape(label)}</button>
</form>`;

const tokenBlock = (name, id, value) =>
  value === undefined ? '' : `<h2>${escape(name)}</h2>\n<pre id="${id}">${escape(value)}</pre>`;

/** The start page, or (logged in) what the login returned. */
export const renderHome = ({ session, settings, redirectUri, defaultScopes }) => {
  if (session === undefined)
    return page(
      'Log in',
      `<h1>idport example app</h1>
<p>This application logs you in with OpenID Connect (authorization code flow with PKCE) and shows the tokens it gets.</p>
<dl>
<dt>Issuer</dt><dd><a href="${escape(settings.issuer)}">${escape(settings.issuer)}</a></dd>
<dt>Client</dt><dd>${escape(settings.clientId)}</dd>
<dt>Redirect URI</dt><dd>${escape(redirectUri)}</dd>
</dl>
${loginForm(defaultScopes, 'Log in')}
<p class="muted">The demo user of <code>npm start</code> is admin@example.com with the password "password".</p>`,
    );
  const { claims = {}, tokens, refreshedAt, scope } = session;
  const who = claims.email ?? claims.name ?? claims.sub;
  return page(
    'Logged in',
    `<h1>Logged in as <span id="who">${escape(who)}</span></h1>
<p class="muted">Scopes asked for: ${escape(scope)}${refreshedAt ? ` · tokens refreshed at <span id="refreshed-at">${escape(refreshedAt.toISOString())}</span>` : ''}</p>
<div class="actions">
${tokens.refresh_token !== undefined ? '<form method="post" action="/refresh"><button type="submit" id="refresh">Refresh tokens</button></form>' : ''}
<form method="post" action="/logout"><button type="submit" class="secondary" id="logout">Log out</button></form>
</div>
<h2>ID token claims</h2>
<pre id="claims">${escape(JSON.stringify(claims, null, 2))}</pre>
${tokenBlock('Access token', 'access-token', tokens.access_token)}
${tokenBlock('Refresh token', 'refresh-token', tokens.refresh_token)}
${tokenBlock('ID token', 'id-token', tokens.id_token)}
<h2>Log in again</h2>
${loginForm(scope, 'Log in again')}`,
  );
};

export const renderLoggedOut = () =>
  page(
    'Logged out',
    `<h1>You have logged out</h1>
<p>Your session at idport has ended, and this app has forgotten your tokens.</p>
<p><a href="/">Back to the start page</a></p>`,
  );

export const renderError = (title, detail) =>
  page(
    title,
    `<h1>${escape(title)}</h1>
<p>${escape(detail)}</p>
<p><a href="/">Back to the start page</a></p>`,
  );
