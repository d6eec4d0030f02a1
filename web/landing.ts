/**
 * What a person finds at the issuer URL (and at the host root when the issuer has a path): where discovery and the
 * keys are, and how to register an application. Also the HTML 404, which points at the same places.
 */
import { html } from './html.js';
import { renderDocument } from './layout.js';
import type { Page } from './layout.js';

/** The landing page at the issuer URL. */
export interface LandingPage extends Page {
  /** The issuer URL, as applications must configure it. */
  readonly issuer: string;
}

/** The page for a path nothing is served at. */
export interface NotFoundPage extends Page {
  readonly issuer: string;
  /** The response's `x-request-id`. */
  readonly requestId: string;
}

const discoveryOf = (issuer: string): string => `${issuer}/.well-known/openid-configuration`;

/** Links to discovery and the JWKS, shared by the landing and 404 pages. */
const endpointList = (issuer: string) => html`<ul class="endpoints">
<li>Issuer: <code>${issuer}</code></li>
<li>Discovery: <a href="${discoveryOf(issuer)}">${discoveryOf(issuer)}</a></li>
<li>Signing keys (JWKS): <a href="${issuer}/keys">${issuer}/keys</a></li>
</ul>`;

/** Renders the landing page. */
export function renderLanding(page: LandingPage): string {
  const body = html`<h1>${page.issuerName} is an OpenID Connect provider</h1>
<p>Applications send people here to log in. There is nothing to do on this page: open the application you want to use
and choose to log in there.</p>
<h2>For application developers</h2>
<p>Point your OpenID Connect client library at the issuer; it finds everything else through discovery.</p>
${endpointList(page.issuer)}
<p>Each application needs a client in idport's configuration, for example:</p>
<pre class="snippet"><code>staticClients:
  - id: my-app
    name: My App
    secret: a-long-random-secret
    redirectURIs: ['https://app.example.com/callback']</code></pre>
<p class="muted">Documentation: the README and the <code>docs/</code> recipes (kubectl, Grafana, Argo CD,
oauth2-proxy) in the idport source; <code>idport check-config CONFIG</code> lists the clients a config defines.</p>`;
  return renderDocument({ page, title: 'OpenID Connect provider', body, wide: true });
}

/** Renders the HTML 404: the path is wrong, and here is where things are. */
export function renderNotFound(page: NotFoundPage): string {
  const body = html`<h1>Page not found</h1>
<p>There is no page at this address. If an application sent you here, go back to it and log in again.</p>
<p>Applications find this provider through discovery:</p>
${endpointList(page.issuer)}
<p class="request-id muted">Request ID: <code>${page.requestId}</code></p>`;
  return renderDocument({ page, title: 'Page not found', body, wide: true });
}
