/**
 * The device flow's routes (RFC 8628), at Dex's paths: POST /device/code for the device (JSON), and for the user's
 * browser GET /device (enter the code), POST /device/auth/verify_code, and GET /device/callback (the end of the login).
 * Registered only when `oauth2.grantTypes` enables the device_code grant.
 */
import type { FastifyInstance } from 'fastify';
import { renderDevice, renderDeviceResult, renderLogin } from '../../web/render.js';
import { approvalUrl, connectorChoices, connectorUrl } from '../oauth/authorize/connector-step.js';
import { isDeviceFlowEnabled, startDeviceFlow } from '../oauth/device/authorization.js';
import {
  checkDeviceCsrf,
  deviceFormCsrf,
  findPendingDeviceRequest,
  finishDeviceLogin,
  startDeviceLogin,
} from '../oauth/device/login.js';
import type { Provider } from '../oauth/provider.js';
import { browserCookieOf, browserIdOf, queryOf, queryParam, sessionCookieOf } from './browser-state.js';
import { jsonErrorHandler, pageErrorHandler } from './errors.js';
import { formOf, formRequest } from './form.js';
import { redirect, sendPage, type PageContext } from './pages.js';
import { guardPasswordLogin } from '../oauth/brute-force.js';

export interface DeviceRoutesOptions {
  readonly provider: Provider;
  readonly page: PageContext;
}

/** POST /device/code: the device authorization endpoint, answering in JSON like /token. */
const deviceAuthorizationRoute = async (app: FastifyInstance, options: { provider: Provider }): Promise<void> => {
  const { provider } = options;
  app.setErrorHandler(jsonErrorHandler('Basic'));
  app.post('/device/code', async (request, reply) => {
    const response = await startDeviceFlow(provider, formRequest(request));
    void reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send(response);
  });
};

/** The browser's side: HTML pages, errors as pages. */
const devicePageRoutes = async (app: FastifyInstance, options: DeviceRoutesOptions): Promise<void> => {
  const { provider, page } = options;
  const postUrl = `${provider.settings.basePath}/device/auth/verify_code`;
  app.setErrorHandler(pageErrorHandler(provider, page));

  const codePage = (browserId: string, userCode: string, invalid: boolean): string =>
    renderDevice({ ...page.base, postUrl, userCode, invalid, csrfToken: deviceFormCsrf(browserId) });

  app.get('/device', async (request, reply) => {
    const userCode = queryParam(request, 'user_code') ?? '';
    sendPage(reply, page, codePage(browserIdOf(provider, request, reply), userCode, false));
  });

  // A wrong code counts against the client IP's budget of failures (bruteForce.maxFailuresPerIP), as a wrong
  // password does: with 20^8 codes and that budget, guessing someone's code is hopeless.
  app.post('/device/auth/verify_code', async (request, reply) => {
    const form = formOf(request);
    const browserId = browserCookieOf(request);
    checkDeviceCsrf(browserId, form.get('csrf') ?? undefined);
    const typed = form.get('user_code') ?? '';
    const device = await guardPasswordLogin(provider, { clientIp: request.ip }, () =>
      findPendingDeviceRequest(provider, typed),
    );
    if (device === undefined) return sendPage(reply, page, codePage(browserId, typed, true), { status: 400 });
    const start = await startDeviceLogin(provider, device, browserId, sessionCookieOf(provider, request));
    const requestId = start.request.id;
    if (start.kind === 'loggedIn') return redirect(reply, approvalUrl(provider, requestId));
    if (start.kind === 'connector') return redirect(reply, connectorUrl(provider, start.connectorId, requestId));
    sendPage(reply, page, renderLogin({ ...page.base, connectors: connectorChoices(provider, requestId) }));
  });

  app.get('/device/callback', async (request, reply) => {
    const result = await finishDeviceLogin(provider, queryOf(request), browserCookieOf(request));
    sendPage(reply, page, renderDeviceResult({ ...page.base, ...result }));
  });
};

export const deviceRoutes = async (app: FastifyInstance, options: DeviceRoutesOptions): Promise<void> => {
  if (!isDeviceFlowEnabled(options.provider.settings)) return;
  await app.register(deviceAuthorizationRoute, { provider: options.provider });
  await app.register(devicePageRoutes, options);
};
