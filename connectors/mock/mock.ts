/**
 * Dex's mock connectors (connector/mock/connectortest.go), for trying idport out and for tests of the
 * login flow: `mockCallback` logs in a fixed user without interaction, `mockPassword` accepts one
 * configured username and password. Same identities as Dex, so tests written against Dex carry over.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import type {
  CallbackConnector,
  ConnectorModule,
  Identity,
  PasswordConnector,
  Refreshable,
  TokenExchanging,
} from '../connector.js';
import { mockCallbackConfigSchema, mockPasswordConfigSchema } from './config.js';

export { mockCallbackConfigSchema, mockPasswordConfigSchema } from './config.js';

/** Dex's mock user id (an ISBN of Kurt Vonnegut's Breakfast of Champions). */
export const MOCK_USER_ID = '0-385-28089-0';

// A fresh object (and fresh connectorData bytes) per call, so no caller can change what the next login returns.
const callbackIdentity = (): Identity => ({
  userId: MOCK_USER_ID,
  username: 'Kilgore Trout',
  email: 'kilgore@kilgore.trout',
  emailVerified: true,
  groups: ['authors'],
  // Dex sets this so the server's handling of connector data is exercised.
  connectorData: new TextEncoder().encode('foobar'),
});

const passwordIdentity = (): Identity => ({
  userId: MOCK_USER_ID,
  username: 'Kilgore Trout',
  email: 'kilgore@kilgore.trout',
  emailVerified: true,
  groups: [], // Dex's mockPassword reports no groups
  connectorData: new TextEncoder().encode('{"test": "true"}'),
});

/**
 * `mockCallback`: redirects straight back to the callback and always logs in Kilgore Trout; token exchange likewise
 * turns any subject token into Kilgore Trout, as Dex's does.
 */
export const mockCallback = {
  configSchema: mockCallbackConfigSchema,
  async open(_id, _config, _deps): Promise<CallbackConnector & Refreshable & TokenExchanging> {
    return {
      kind: 'callback',
      async loginUrl(_scopes, callbackUrl, state) {
        let url: URL;
        try {
          url = new URL(callbackUrl);
        } catch (err: unknown) {
          // The server builds this URL, so a bad one is a bug there, not a refused login.
          throw new Error(`mockCallback: invalid callback URL ${JSON.stringify(callbackUrl)}`, { cause: err });
        }
        url.searchParams.set('state', state);
        return { url: url.toString() };
      },
      handleCallback: async () => callbackIdentity(),
      refresh: async () => callbackIdentity(),
      // Dex's mock accepts any subject token and answers with its one user: for demos and tests, never production.
      tokenIdentity: async () => callbackIdentity(),
    };
  },
} satisfies ConnectorModule<typeof mockCallbackConfigSchema>;

// Hashing first makes both sides the same length, so timingSafeEqual neither throws nor leaks the length.
const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** `mockPassword`: a password connector that accepts exactly the configured pair. */
export const mockPassword = {
  configSchema: mockPasswordConfigSchema,
  async open(_id, config, _deps): Promise<PasswordConnector & Refreshable> {
    const username = digest(config.username);
    const password = digest(config.password);
    return {
      kind: 'password',
      // Dex returns "" here and its login page falls back to "Username"; our contract wants the label itself.
      prompt: () => 'Username',
      async login(_scopes, givenUsername, givenPassword) {
        // Both comparisons always run (no short-circuit), so timing tells nothing about which part was wrong.
        const isUsername = timingSafeEqual(digest(givenUsername), username);
        const isPassword = timingSafeEqual(digest(givenPassword), password);
        return isUsername && isPassword ? passwordIdentity() : undefined;
      },
      // Dex hands the identity back unchanged: there is nothing upstream to re-check.
      refresh: async (_scopes, identity) => identity,
    };
  },
} satisfies ConnectorModule<typeof mockPasswordConfigSchema>;
