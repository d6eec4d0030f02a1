/** Sending HTML pages with the security headers, and delivering authorization responses. */
import type { FastifyReply } from 'fastify';
import type { AuthorizationResponse } from '../oauth/authorize/flow.js';
import { securityHeaders } from '../../web/assets.js';
import { renderFormPost, renderOob, type Page } from '../../web/render.js';

/** Branding and paths every page needs (`web.headers` are added to every response by an onSend hook in app.ts). */
export interface PageContext {
  readonly base: Page;
}

/** How a page is sent: its status (200 unless said), and the URI a form on it posts to (allowed by the CSP). */
export interface PageOptions {
  readonly status?: number;
  readonly redirectUri?: string;
}

export const sendPage = (reply: FastifyReply, page: PageContext, body: string, options: PageOptions = {}): void => {
  const { status = 200, redirectUri } = options;
  void reply
    .code(status)
    .headers(securityHeaders(redirectUri === undefined ? {} : { redirectUri }))
    .type('text/html; charset=utf-8')
    .send(body);
};

/** 303 so a POSTed form becomes a GET at the client (RFC 7231 §6.4.4). */
export const redirect = (reply: FastifyReply, location: string): void => {
  void reply
    .code(303)
    .header('Cache-Control', 'no-store')
    .header('Referrer-Policy', 'no-referrer')
    .redirect(location, 303);
};

export const sendAuthorizationResponse = (
  reply: FastifyReply,
  page: PageContext,
  response: AuthorizationResponse,
): void => {
  switch (response.kind) {
    case 'redirect':
      redirect(reply, response.location);
      return;
    case 'form_post':
      sendPage(
        reply,
        page,
        renderFormPost({ ...page.base, redirectUri: response.redirectUri, params: response.params }),
        { redirectUri: response.redirectUri },
      );
      return;
    case 'oob':
      sendPage(reply, page, renderOob({ ...page.base, code: response.code }));
      return;
  }
};
