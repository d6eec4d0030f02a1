/**
 * The only place errors become responses (ARCHITECTURE.md decision 7). Each route group installs the handler
 * for its channel: JSON for the token and userinfo endpoints, a redirect or an HTML page for the browser.
 */
import { PageError } from '../oauth/primitives/page-error.js';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError, statusOf } from '../errors.js';
import { RedirectableError } from '../oauth/authorize/request.js';
import { errorResponse } from '../oauth/authorize/flow.js';
import { wireDescription } from '../oauth/primitives/error-description.js';
import type { Provider } from '../oauth/provider.js';
import { ConnectorError } from '../../connectors/connector.js';
import { StorageUnavailableError } from '../../storage/storage.js';
import { notAForm } from './form.js';
import { sendAuthorizationResponse, sendPage, type PageContext } from './pages.js';
import { LoginThrottledError } from '../oauth/brute-force.js';
import { pageErrorText } from '../../web/page-errors.js';
import { renderError } from '../../web/render.js';

/** Normalises anything thrown into an OAuthError, logging what is unexpected with its cause. */
export const toOAuthError = (err: unknown, request: FastifyRequest): OAuthError => {
  if (err instanceof OAuthError) return err;
  const code = (err as Partial<FastifyError> | undefined)?.code;
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return notAForm();
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new OAuthError('invalid_request', 'the body is too large');
  const validation = (err as Partial<FastifyError> | undefined)?.validation;
  const statusCode = (err as Partial<FastifyError> | undefined)?.statusCode;
  // Fastify's validation failures and its other 4xx (a body too large, a bad content type) are the client's fault.
  if (validation !== undefined || (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500)) {
    return new OAuthError('invalid_request', 'the request is malformed');
  }
  if (err instanceof StorageUnavailableError) {
    request.log.error({ err }, 'storage unavailable');
    return new OAuthError('temporarily_unavailable', 'the service is temporarily unavailable');
  }
  request.log.error({ err }, 'unexpected error');
  return new OAuthError('server_error');
};

/** For /token and /userinfo: RFC 6749 §5.2 JSON, never cached; RFC 6750 §3 WWW-Authenticate where it applies. */
export const jsonErrorHandler =
  (scheme: 'Basic' | 'Bearer') =>
  (err: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const error = toOAuthError(err, request);
    const status = statusOf(error);
    // The challenge names the credential that failed; a rejected subject token is not one of the client's.
    if (status === 401 && error.code !== 'access_denied') {
      const realm = scheme === 'Basic' ? 'Basic realm="idport"' : `Bearer realm="idport", error="${error.code}"`;
      void reply.header('WWW-Authenticate', realm);
    }
    void reply
      .code(status)
      .header('Cache-Control', 'no-store')
      .header('Pragma', 'no-cache')
      .send({
        error: error.code,
        ...(error.description !== undefined ? { error_description: wireDescription(error.description) } : {}),
      });
  };

/** What an error page says, and the status it is sent with. */
interface ErrorPageText {
  readonly status: number;
  readonly title: string;
  readonly message: string;
  readonly next?: string;
  readonly back?: { readonly url: string; readonly text: string };
}

/** The one log line that says why a page error happened (the request line only has the status). */
const logPageError = (request: FastifyRequest, err: PageError): void => {
  const { clientId, redirectUri } = err.params;
  if (err.code === 'unknown_client') request.log.warn({ client_id: clientId }, 'unknown client');
  else if (err.code === 'unregistered_redirect_uri')
    request.log.warn({ client_id: clientId, redirect_uri: redirectUri }, 'redirect URI not registered for client');
  else request.log.info({ reason: err.code }, 'browser request refused');
};

/** The page for anything thrown on a browser route that does not go back to the client. */
const errorPageText = (err: unknown, request: FastifyRequest): ErrorPageText => {
  if (err instanceof LoginThrottledError) {
    request.log.warn({ retry_after: err.retryAfterSeconds }, 'too many attempts from this address');
    // The limited routes are form POSTs whose form is served by a GET at the same URL.
    const back = request.url.includes('/device/') ? request.url.replace(/\/device\/.*$/, '/device') : request.url;
    return {
      status: 429,
      title: 'Too many failed attempts',
      message: err.message,
      back: { url: back, text: 'Back to the login form' },
    };
  }
  if (err instanceof PageError) {
    logPageError(request, err);
    return { status: 400, ...pageErrorText(err.code, err.params) };
  }
  if (err instanceof ConnectorError) {
    const { connector } = (request.params ?? {}) as { connector?: string };
    request.log.warn({ connector, reason: err.message }, 'login failed');
    return {
      status: err.temporary ? 503 : 502,
      title: 'We could not log you in',
      message: err.userMessage,
      next: 'Go back to the application and try again. If it keeps happening, contact your administrator.',
    };
  }
  const error = toOAuthError(err, request);
  const status = statusOf(error);
  if (status >= 500)
    return {
      status,
      title: status === 503 ? 'Login is unavailable right now' : 'Something went wrong on our side',
      message: 'idport could not complete the request.',
      next: 'Try again in a few minutes. If it keeps happening, contact your administrator.',
    };
  request.log.info({ reason: error.code, description: error.description }, 'browser request refused');
  return {
    status,
    title: 'This request could not be understood',
    message: error.description ?? error.code,
    next: 'Go back to the application and sign in again.',
  };
};

/**
 * For browser routes: errors about a verified request go back to the client (RFC 6749 §4.1.2.1); everything
 * else is an HTML page saying what happened, what to do, and the request id for support. Details stay in the log.
 */
export const pageErrorHandler =
  (provider: Provider, page: PageContext) =>
  (err: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    if (err instanceof RedirectableError) {
      try {
        sendAuthorizationResponse(reply, page, errorResponse(provider, err.target, err));
        return;
      } catch (inner: unknown) {
        err = inner;
      }
    }
    const { status, ...text } = errorPageText(err, request);
    if (err instanceof LoginThrottledError) void reply.header('Retry-After', String(err.retryAfterSeconds));
    sendPage(reply, page, renderError({ ...page.base, ...text, requestId: request.id }), { status });
  };
