/**
 * Drives a callback connector against a fake provider the way the browser and idport would: its
 * authorization URL is fetched (the fake redirects back at once), and the query of that redirect is
 * handed to handleCallback.
 */
import assert from 'node:assert/strict';

import { pino } from 'pino';

import {
  type CallbackConnector,
  type ConnectorDeps,
  ConnectorError,
  type Identity,
  type Refreshable,
  type Scopes,
} from '../../connectors/connector.js';

export const PLAIN: Scopes = { offlineAccess: false, groups: false };
export const GROUPS: Scopes = { offlineAccess: false, groups: true };
export const OFFLINE: Scopes = { offlineAccess: true, groups: true };

export type TestConnector = CallbackConnector & Refreshable & { close(): Promise<void> };

/** Deps with a settable clock and the log lines kept for assertions. */
export function testDeps(fetchFn: typeof fetch = fetch): ConnectorDeps & {
  lines: Array<Record<string, unknown>>;
  clock: { offsetMs: number };
} {
  const lines: Array<Record<string, unknown>> = [];
  const clock = { offsetMs: 0 };
  const log = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { log, fetch: fetchFn, now: () => new Date(Date.now() + clock.offsetMs), lines, clock };
}

/** Narrows an opened connector to a refreshable callback connector. */
export function asCallback(connector: unknown): TestConnector {
  const c = connector as TestConnector;
  assert.equal(c.kind, 'callback');
  assert.equal(typeof c.refresh, 'function');
  return c;
}

/** The browser's part: to the provider's authorize page and back; returns the callback query. */
export async function authorize(
  connector: TestConnector,
  scopes: Scopes,
  callback: string,
): Promise<{ query: URLSearchParams; authorizeUrl: URL; connectorState: Uint8Array | undefined }> {
  const { url, connectorState } = await connector.loginUrl(scopes, callback, 'state-123');
  const response = await fetch(url, { redirect: 'manual' });
  assert.equal(response.status, 302, `the provider redirected back (${response.status} ${await response.text()})`);
  const back = new URL(response.headers.get('location') ?? '');
  assert.equal(`${back.origin}${back.pathname}`, callback);
  assert.equal(back.searchParams.get('state'), 'state-123');
  return { query: back.searchParams, authorizeUrl: new URL(url), connectorState };
}

/** A whole login through the connector. */
export async function login(connector: TestConnector, scopes: Scopes, callback: string): Promise<Identity> {
  const { query, connectorState } = await authorize(connector, scopes, callback);
  return connector.handleCallback(scopes, connectorState, query);
}

/** An assert.rejects validator for a ConnectorError. */
export const refused =
  (check: { userMessage?: RegExp; message?: RegExp; temporary?: boolean }) =>
  (err: unknown): boolean => {
    assert.ok(err instanceof ConnectorError, `expected a ConnectorError, got ${String(err)}`);
    if (check.userMessage) assert.match(err.userMessage, check.userMessage);
    if (check.message) assert.match(err.message, check.message);
    assert.equal(err.temporary, check.temporary ?? false);
    return true;
  };
