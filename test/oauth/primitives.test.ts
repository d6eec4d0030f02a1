/** PKCE, token hashes, client authentication, redirect URI matching and scope rules, against the specs' own examples. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OAuthError } from '../../src/errors.js';
import { authenticateClient, presentedCredentials } from '../../src/oauth/primitives/client-auth.js';
import { isRedirectUriAllowed, OOB_REDIRECT_URI } from '../../src/oauth/primitives/redirect-uri.js';
import { wireDescription } from '../../src/oauth/primitives/error-description.js';
import { verifyPkce } from '../../src/oauth/primitives/pkce.js';
import { halfHash, safeEqual } from '../../src/oauth/primitives/secrets.js';
import { checkRequestedScopes, exchangeScopes } from '../../src/oauth/primitives/scopes.js';
import { hasConsent } from '../../src/oauth/session/sessions.js';
import type { Session } from '../../storage/storage.js';
import { client } from './provider.js';

describe('PKCE (RFC 7636)', () => {
  const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';

  it('accepts the verifier of RFC 7636 Appendix B for its S256 challenge, and plain as itself', () => {
    verifyPkce('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', 'S256', verifier);
    verifyPkce(verifier, 'plain', verifier);
  });

  it('refuses an S256 challenge checked as plain', () => {
    assert.throws(
      () => verifyPkce('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', 'plain', verifier),
      new OAuthError('invalid_grant', 'code_verifier does not match code_challenge'),
    );
  });

  it('refuses a verifier outside 43-128 unreserved characters', () => {
    for (const bad of ['a'.repeat(42), 'a'.repeat(129), `${'a'.repeat(42)}+`]) {
      assert.throws(
        () => verifyPkce('a'.repeat(43), 'plain', bad),
        new OAuthError('invalid_grant', 'code_verifier is malformed'),
      );
    }
  });
});

describe('at_hash and c_hash (OIDC Core §3.1.3.6, §3.3.2.11)', () => {
  it('matches the examples of OIDC Core Appendix A', () => {
    assert.equal(halfHash('jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y', 'RS256'), '77QmUPtjPfzWtF2AnpK9RQ');
    assert.equal(
      halfHash('Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk', 'RS256'),
      'LDktKdoQak3Pk0cnXxCltA',
    );
  });

  it('uses the hash of the signing algorithm: SHA-384 for *384, SHA-512 for *512 and EdDSA', () => {
    assert.equal(halfHash('x', 'ES384').length, 32);
    assert.equal(halfHash('x', 'RS512').length, 43);
    assert.equal(halfHash('x', 'EdDSA').length, 43);
  });
});

describe('client authentication (RFC 6749 §2.3.1)', () => {
  const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

  it('form-decodes Basic credentials before comparing them', () => {
    const presented = presentedCredentials(basic('my%3Aapp', 'a+b%25c'), {});
    assert.deepEqual(presented, { method: 'client_secret_basic', clientId: 'my:app', clientSecret: 'a b%c' });
  });

  it('refuses malformed Basic credentials with invalid_client', () => {
    assert.throws(
      () => presentedCredentials(`Basic ${Buffer.from('no-colon').toString('base64')}`, {}),
      new OAuthError('invalid_client', 'malformed Basic credentials'),
    );
    assert.throws(
      () => presentedCredentials(basic('%E0%A4%A', 'x'), {}),
      new OAuthError('invalid_client', 'malformed Basic credentials'),
    );
  });

  it('refuses a form client_id that differs from the Basic one with invalid_request', () => {
    assert.throws(
      () => presentedCredentials(basic('web', 'web-secret'), { client_id: 'other' }),
      new OAuthError('invalid_request', 'client_id does not match the Authorization header'),
    );
    assert.equal(presentedCredentials(basic('web', 'web-secret'), { client_id: 'web' }).clientId, 'web');
  });

  it('treats a secret sent to a public client as no authentication, and a confidential client without one as invalid_client', () => {
    const cli = client('cli', { public: true, secret: '' });
    assert.equal(authenticateClient(cli, presentedCredentials(undefined, { client_id: 'cli' })), cli);
    assert.throws(
      () => authenticateClient(client('web'), presentedCredentials(undefined, { client_id: 'web' })),
      new OAuthError('invalid_client', 'invalid client credentials'),
    );
    assert.throws(
      () => authenticateClient(client('web'), presentedCredentials(undefined, { client_id: 'web', client_secret: '' })),
      new OAuthError('invalid_client', 'invalid client credentials'),
    );
  });

  it('compares secrets of different lengths without throwing', () => {
    assert.equal(safeEqual('web-secret', 'web-secret'), true);
    assert.equal(safeEqual('web-secret', 'web-secret-but-longer'), false);
    assert.equal(safeEqual('', 'x'), false);
  });
});

describe('redirect URI matching', () => {
  const web = client('web', { redirectURIs: ['https://app.example/cb', 'http://localhost:8000/cb'] });
  const cli = client('cli', { public: true, redirectURIs: ['http://127.0.0.1:8000/cb'] });
  const bare = client('bare', { public: true, redirectURIs: [] });

  it('matches registered URIs exactly: no case folding, no trailing slash, no added query', () => {
    assert.equal(isRedirectUriAllowed(web, 'https://app.example/cb'), true);
    for (const near of [
      'https://APP.example/cb',
      'https://app.example/cb/',
      'https://app.example/cb?x=1',
      'https://app.example/cb#f',
      'http://localhost:9000/cb',
    ]) {
      assert.equal(isRedirectUriAllowed(web, near), false, near);
    }
  });

  it('lets a public client change only the port of a registered loopback URI (RFC 8252 §7.3)', () => {
    assert.equal(isRedirectUriAllowed(cli, 'http://127.0.0.1:55555/cb'), true);
    assert.equal(isRedirectUriAllowed(cli, 'http://127.0.0.1/cb'), true);
    assert.equal(isRedirectUriAllowed(cli, 'http://127.0.0.1:55555/other'), false);
    assert.equal(isRedirectUriAllowed(cli, 'https://127.0.0.1:55555/cb'), false);
    assert.equal(isRedirectUriAllowed(cli, 'http://localhost:55555/cb'), false);
  });

  it('lets a public client without registered URIs use any loopback URI and OOB, nothing else', () => {
    for (const uri of ['http://localhost:1/x', 'http://127.0.0.1:2/y', 'http://[::1]:3/z', OOB_REDIRECT_URI])
      assert.equal(isRedirectUriAllowed(bare, uri), true, uri);
    for (const uri of ['http://example.com/cb', 'http://127.0.0.2/cb', 'http://localhost.example/cb', 'myapp:/cb'])
      assert.equal(isRedirectUriAllowed(bare, uri), false, uri);
  });
});

describe('error descriptions on the wire (RFC 6749 §4.1.2.1, §5.2)', () => {
  it('keeps only the allowed characters: quotes become apostrophes, controls and backslashes spaces', () => {
    assert.equal(wireDescription('response_type "x" is not enabled'), "response_type 'x' is not enabled");
    assert.equal(wireDescription('a\r\nb\\c\té'), 'a  b c  ');
  });
});

describe('consent and scopes', () => {
  const session = (granted: readonly string[]) => ({ consents: { web: granted } }) as unknown as Session;

  it('finds consent for every requested scope among many recorded ones, and not when one is missing', () => {
    // A set lookup per scope: a session that recorded thousands of scopes is checked in one pass.
    const many = Array.from({ length: 20_000 }, (_, i) => `audience:server:client_id:c${i}`);
    assert.equal(hasConsent(session(['openid', ...many]), 'web', ['openid', ...many]), true);
    assert.equal(hasConsent(session(many), 'web', ['openid', ...many]), false);
    assert.equal(hasConsent(session(['openid']), 'other', ['openid']), false);
  });

  it('refuses scopes Dex does not know, naming them as Dex does, with the code the caller asks for', async () => {
    const getClient = async () => undefined;
    await assert.rejects(
      checkRequestedScopes(client('web'), ['openid', 'address', 'x"y'], getClient),
      new OAuthError('invalid_scope', 'Unrecognized scope(s) ["address" "x\\"y"]'),
    );
    await assert.rejects(
      checkRequestedScopes(client('web'), ['openid', 'phone'], getClient, 'invalid_request'),
      new OAuthError('invalid_request', 'Unrecognized scope(s) ["phone"]'),
    );
    const known = ['openid', 'email', 'profile', 'groups', 'offline_access', 'federated:id'];
    await checkRequestedScopes(client('web'), [...known, 'audience:server:client_id:web'], getClient);
  });

  it('passes a token exchange its known scopes, drops the rest as Dex ignores them, and needs no openid', async () => {
    const peers = new Map([
      ['api', client('api', { trustedPeers: ['web'] })],
      ['other', client('other')],
    ]);
    const getClient = async (id: string) => peers.get(id);
    assert.deepEqual(
      await exchangeScopes(
        client('web'),
        ['groups', 'repo:write', 'email', 'audience:server:client_id:api', 'audience:server:client_id:web'],
        getClient,
      ),
      ['groups', 'email', 'audience:server:client_id:api', 'audience:server:client_id:web'],
    );
    assert.deepEqual(await exchangeScopes(client('web'), [], getClient), []);
  });

  it('refuses a token exchange an audience scope whose peer does not trust the client, and more than 32 scopes', async () => {
    const getClient = async (id: string) => (id === 'other' ? client('other') : undefined);
    await assert.rejects(
      exchangeScopes(
        client('web'),
        ['openid', 'audience:server:client_id:other', 'audience:server:client_id:gone', 'audience:server:client_id:'],
        getClient,
      ),
      new OAuthError(
        'invalid_scope',
        `Client can't request scope(s) ["audience:server:client_id:other" "audience:server:client_id:gone" "audience:server:client_id:"]`,
      ),
    );
    const many = Array.from({ length: 33 }, (_, i) => `s${i}`);
    await assert.rejects(
      exchangeScopes(client('web'), many, getClient),
      new OAuthError('invalid_scope', 'a request may name at most 32 scopes'),
    );
  });
});
