/** Authorization request validation as a domain function: what is a page, what is redirected, and what is stored. */
import { pageErrorSentence } from '../../web/page-errors.js';
import { PageError } from '../../src/oauth/primitives/page-error.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OAuthError } from '../../src/errors.js';
import { RedirectableError, validateAuthorization, type AuthorizeContext } from '../../src/oauth/authorize/request.js';
import { OOB_REDIRECT_URI } from '../../src/oauth/primitives/redirect-uri.js';
import { client, defaultSettings, REDIRECT } from './provider.js';

const clients = new Map([
  ['web', client('web')],
  ['cli', client('cli', { public: true, secret: '', redirectURIs: [] })],
]);
const ctx: AuthorizeContext = {
  settings: defaultSettings,
  getClient: async (id) => clients.get(id),
  connectorIds: ['test'],
};

const validate = async (params: Record<string, string>) => validateAuthorization(new URLSearchParams(params), ctx);
const base = { client_id: 'web', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid' };

describe('validateAuthorization', () => {
  it('stores a plain code request with query mode, no PKCE and no forced approval', async () => {
    const request = await validate({ ...base, state: 's', scope: 'openid email openid' });
    assert.deepEqual(
      {
        types: request.responseTypes,
        mode: request.responseMode,
        scopes: request.scopes,
        state: request.state,
        pkce: request.codeChallengeMethod,
        force: request.forceApproval,
      },
      { types: ['code'], mode: 'query', scopes: ['openid', 'email'], state: 's', pkce: '', force: false },
    );
  });

  it('accepts the words of a response_type in any order (Multiple Response Types §3)', async () => {
    const request = await validate({ ...base, response_type: 'id_token code', nonce: 'n' });
    assert.deepEqual(request.responseTypes, ['code', 'id_token']);
    assert.equal(request.responseMode, 'fragment');
  });

  it('forces approval for approval_prompt=force and for prompt=consent', async () => {
    assert.equal((await validate({ ...base, approval_prompt: 'force' })).forceApproval, true);
    assert.equal((await validate({ ...base, prompt: 'consent login' })).forceApproval, true);
    assert.equal((await validate({ ...base, approval_prompt: 'auto' })).forceApproval, false);
  });

  it('answers problems with the client or redirect URI with a page error, never a redirect', async () => {
    await assert.rejects(
      validate({ ...base, client_id: 'nope' }),
      (err: unknown) =>
        err instanceof PageError && pageErrorSentence(err.code, err.params) === 'Unknown client "nope".',
    );
    await assert.rejects(validate({ ...base, redirect_uri: 'https://evil.example/' }));
  });

  it('answers problems after verification with a RedirectableError aimed at the verified redirect URI', async () => {
    await assert.rejects(
      validate({ ...base, scope: 'email', state: 'st', response_mode: 'form_post' }),
      (err: unknown) => {
        assert.ok(err instanceof RedirectableError);
        assert.deepEqual(
          { code: err.code, description: err.description },
          { code: 'invalid_scope', description: 'the openid scope is required' },
        );
        assert.deepEqual(err.target, { redirectUri: REDIRECT, responseMode: 'form_post', state: 'st' });
        return true;
      },
    );
  });

  it('aims errors for an out-of-band request at the query, whatever response_mode says', async () => {
    await assert.rejects(
      validate({
        client_id: 'cli',
        redirect_uri: OOB_REDIRECT_URI,
        response_type: 'code',
        scope: 'openid',
        response_mode: 'fragment',
      }),
      (err: unknown) => {
        assert.ok(err instanceof RedirectableError);
        assert.equal(err.target.responseMode, 'query');
        assert.deepEqual(
          { code: err.code, description: err.description },
          { code: 'invalid_request', description: 'PKCE code_challenge is required' },
        );
        return true;
      },
    );
  });

  it('defaults code_challenge_method to plain (RFC 7636 §4.3)', async () => {
    const request = await validate({ ...base, code_challenge: 'a'.repeat(43) });
    assert.equal(request.codeChallengeMethod, 'plain');
  });

  it('tolerates a PKCE challenge on a response type without a code', async () => {
    const request = await validate({
      ...base,
      response_type: 'id_token',
      nonce: 'n',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
    });
    assert.deepEqual(request.responseTypes, ['id_token']);
  });

  it('keeps max_age, login_hint and connector_id', async () => {
    const request = await validate({ ...base, max_age: '0', login_hint: 'jane@example.com', connector_id: 'test' });
    assert.deepEqual(
      { maxAge: request.maxAge, hint: request.loginHint, connector: request.connectorId },
      { maxAge: 0, hint: 'jane@example.com', connector: 'test' },
    );
  });

  it('throws OAuthError subclasses only, so the one error mapping can place them', async () => {
    await assert.rejects(
      validate({ ...base, request: 'x' }),
      (err: unknown) => err instanceof OAuthError && err.code === 'request_not_supported',
    );
  });
});
