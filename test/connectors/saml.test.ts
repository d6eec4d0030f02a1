/**
 * The `saml` connector against an independent IdP (samlify, test/support/saml-idp.ts), without HTTP:
 * postData's AuthnRequest goes straight to the IdP, and its Response straight to handlePost.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';

import { ConnectorError, type ConnectorDeps, type SamlConnector, type Scopes } from '../../connectors/connector.js';
import { ConnectorConfigError, openConnector } from '../../connectors/registry.js';
import { configSchema, resolveNameIdFormat } from '../../connectors/saml/config.js';
import { createSamlIdp, makeSigningKey, type ResponseOptions, type SamlIdp } from '../support/saml-idp.js';

const ACS = 'https://idport.test/dex/callback';
const SP_ENTITY = 'https://idport.test/dex/saml';
const withGroups: Scopes = { offlineAccess: false, groups: true };
const deps: ConnectorDeps = {
  log: pino({ level: 'silent' }),
  fetch: () => Promise.reject(new Error('no network in SAML tests')),
  now: () => new Date(),
};
const alice = { nameId: 'alice-persistent-id', email: 'alice@example.org', name: 'Alice', groups: ['admins', 'devs'] };

const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

describe('saml connector', () => {
  let idp: SamlIdp;
  const config = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    ssoURL: idp.ssoUrl,
    caData: base64(idp.certificate),
    entityIssuer: SP_ENTITY,
    ssoIssuer: idp.entityId,
    redirectURI: ACS,
    usernameAttr: 'name',
    emailAttr: 'email',
    groupsAttr: 'groups',
    ...extra,
  });
  const openSaml = async (extra: Record<string, unknown> = {}): Promise<SamlConnector> => {
    const connector = await openConnector('saml', 'corp', config(extra), deps);
    assert.equal(connector.kind, 'saml');
    if (connector.kind !== 'saml') throw new Error('not a SAML connector');
    assert.equal('refresh' in connector, false, 'SAML cannot refresh (as in Dex)');
    return connector;
  };
  /** One login: AuthnRequest to the IdP, its Response back into the connector. */
  const login = async (connector: SamlConnector, options: ResponseOptions = {}, scopes = withGroups) => {
    const posted = await connector.postData(scopes, 'auth-request-1');
    assert.equal(posted.action, idp.ssoUrl);
    const sent = await idp.respond(posted.samlRequest, 'auth-request-1', options);
    return {
      posted,
      sent,
      identity: () => connector.handlePost(scopes, posted.connectorState, sent.samlResponse, sent.relayState),
    };
  };
  const refused = async (promise: Promise<unknown>, reason: RegExp): Promise<void> => {
    await assert.rejects(promise, (err: unknown) => {
      assert.ok(err instanceof ConnectorError, `expected ConnectorError, got ${String(err)}`);
      assert.match(err.message, reason);
      assert.doesNotMatch(err.userMessage, /InResponseTo|audience|signature/i, 'the page says nothing technical');
      return true;
    });
  };

  before(() => {
    idp = createSamlIdp({ spEntityId: SP_ENTITY, acsUrl: ACS, user: alice });
  });

  it('sends a POST-binding AuthnRequest and maps a signed assertion to an identity with Dex rules', async () => {
    const connector = await openSaml();
    const { posted, identity } = await login(connector);
    const xml = Buffer.from(posted.samlRequest, 'base64').toString('utf8');
    assert.match(xml, /<samlp:AuthnRequest /);
    assert.match(xml, new RegExp(`AssertionConsumerServiceURL="${ACS}"`));
    assert.match(xml, /Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/);
    assert.match(xml, new RegExp(`<saml:Issuer[^>]*>${SP_ENTITY}</saml:Issuer>`));
    assert.deepEqual(await identity(), {
      userId: 'alice-persistent-id',
      username: 'Alice',
      email: 'alice@example.org',
      emailVerified: true,
      groups: ['admins', 'devs'],
    });
  });

  it('accepts a response signed as a whole, or both response and assertion signed', async () => {
    const connector = await openSaml();
    assert.equal((await (await login(connector, { sign: 'response' })).identity()).userId, 'alice-persistent-id');
    assert.equal((await (await login(connector, { sign: 'both' })).identity()).userId, 'alice-persistent-id');
  });

  it('refuses a validly signed assertion in a response whose top-level status is not Success, naming it', async () => {
    const responder = 'urn:oasis:names:tc:SAML:2.0:status:Responder';
    const { identity } = await login(await openSaml(), { status: responder });
    await assert.rejects(identity(), (err: unknown) => {
      assert.ok(err instanceof ConnectorError);
      assert.match(err.message, /SAML response status is urn:oasis:names:tc:SAML:2\.0:status:Responder, not Success/);
      assert.equal(
        err.userMessage,
        'The identity provider refused the login (status Responder). Go back to the application and sign in again.',
      );
      return true;
    });
    const success = await login(await openSaml(), { status: 'urn:oasis:names:tc:SAML:2.0:status:Success' });
    assert.equal((await success.identity()).userId, 'alice-persistent-id');
  });

  it('refuses signature wrapping: an unsigned assertion beside the signed one, or the signed one moved', async () => {
    const connector = await openSaml();
    const { posted, sent } = await login(connector);
    const xml = Buffer.from(sent.samlResponse, 'base64').toString('utf8');
    const signed = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)?.[0] ?? '';
    assert.notEqual(signed, '', 'samlify signed an assertion');
    const forged = signed
      .replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '')
      .replace(/ID="[^"]+"/, 'ID="_forged"')
      .replace('alice-persistent-id', 'mallory');
    const encode = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
    const beside = xml.replace(signed, `${forged}${signed}`);
    // The signed assertion moved into an element of another response; the unsigned one takes its place.
    const moved = xml.replace(signed, `${forged}<samlp:Extensions>${signed}</samlp:Extensions>`);
    for (const wrapped of [beside, moved]) {
      await refused(
        connector.handlePost(withGroups, posted.connectorState, encode(wrapped), sent.relayState),
        /Invalid signature: multiple assertions|Invalid signature/,
      );
    }
    const genuine = await connector.handlePost(withGroups, posted.connectorState, sent.samlResponse, sent.relayState);
    assert.equal(genuine.userId, 'alice-persistent-id');
  });

  it('reads a NameID with an XML comment inside whole, never truncated at the comment', async () => {
    const connector = await openSaml();
    const { posted, sent } = await login(connector);
    const xml = Buffer.from(sent.samlResponse, 'base64').toString('utf8');
    // Exclusive canonicalization drops comments, so the signature still holds: only the reading can go wrong.
    const commented = xml.replace('>alice-persistent-id<', '>alice<!-- injected -->-persistent-id<');
    assert.notEqual(commented, xml);
    const encoded = Buffer.from(commented, 'utf8').toString('base64');
    const identity = await connector.handlePost(withGroups, posted.connectorState, encoded, sent.relayState);
    assert.equal(identity.userId, 'alice-persistent-id');
  });

  it('refuses an assertion for another audience', async () => {
    await refused((await login(await openSaml(), { forge: 'wrongAudience' })).identity(), /audience/i);
  });

  it('refuses a response signed by a key that is not in caData', async () => {
    await refused((await login(await openSaml(), { forge: 'otherKey' })).identity(), /signature/i);
  });

  it('refuses an unsigned response', async () => {
    await refused((await login(await openSaml(), { forge: 'unsigned' })).identity(), /signature/i);
  });

  it('refuses an expired assertion', async () => {
    await refused((await login(await openSaml(), { forge: 'expired' })).identity(), /expired|subject confirmation/i);
  });

  it('refuses an assertion for another ACS URL (bearer Recipient)', async () => {
    await refused((await login(await openSaml(), { forge: 'wrongRecipient' })).identity(), /Recipient/);
  });

  it('refuses an assertion from another issuer than ssoIssuer', async () => {
    await refused((await login(await openSaml(), { forge: 'wrongIssuer' })).identity(), /issuer/);
  });

  it('refuses a response to another request, an unsolicited one, and one without pending state', async () => {
    const connector = await openSaml();
    await refused((await login(connector, { inResponseTo: '_another-request' })).identity(), /InResponseTo/);
    const first = await login(connector);
    const second = await connector.postData(withGroups, 'auth-request-1');
    // The first login's valid response does not answer the second request.
    await refused(
      connector.handlePost(withGroups, second.connectorState, first.sent.samlResponse, 'auth-request-1'),
      /InResponseTo/,
    );
    await refused(
      connector.handlePost(withGroups, undefined, first.sent.samlResponse, 'auth-request-1'),
      /no SAML request is pending/,
    );
    await refused(
      connector.handlePost(withGroups, first.posted.connectorState, first.sent.samlResponse, 'auth-request-2'),
      /RelayState/,
    );
  });

  it('applies groupsDelim, allowedGroups and filterGroups as Dex does', async () => {
    idp.user = { ...alice, groups: ['admins;devs;ops'] };
    try {
      const split = await openSaml({ groupsDelim: ';', allowedGroups: ['devs', 'nobody'], filterGroups: true });
      assert.deepEqual((await (await login(split)).identity()).groups, ['devs']);
      const unfiltered = await openSaml({ groupsDelim: ';', allowedGroups: ['ops'] });
      assert.deepEqual((await (await login(unfiltered)).identity()).groups, ['admins', 'devs', 'ops']);
      const outsider = await openSaml({ groupsDelim: ';', allowedGroups: ['finance'] });
      await refused((await login(outsider)).identity(), /allowed groups/);
      // allowedGroups cannot be checked without the groups scope: refused, as in Dex.
      await refused((await login(outsider, {}, { offlineAccess: false, groups: false })).identity(), /allowed groups/);
    } finally {
      idp.user = alice;
    }
    const noGroupsScope = await login(await openSaml(), {}, { offlineAccess: false, groups: false });
    assert.deepEqual((await noGroupsScope.identity()).groups, []);
  });

  it('refuses a login whose email or username attribute is missing, naming what arrived', async () => {
    await refused(
      (await login(await openSaml({ emailAttr: 'mail' }))).identity(),
      /no attribute with name "mail": \[email, name, groups\]/,
    );
  });

  describe('config', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'idport-saml-config-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('reads the certificate from a ca file', async () => {
      const file = join(dir, 'idp.pem');
      writeFileSync(file, idp.certificate);
      const connector = await openSaml({ caData: '', ca: file });
      assert.equal((await (await login(connector)).identity()).email, 'alice@example.org');
    });

    it('resolves nameIDPolicyFormat abbreviations as Dex does', () => {
      assert.equal(resolveNameIdFormat(''), 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
      assert.equal(resolveNameIdFormat('emailAddress'), 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
      assert.equal(
        resolveNameIdFormat('urn:oasis:names:tc:SAML:2.0:nameid-format:transient'),
        'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
      );
      assert.equal(resolveNameIdFormat('bogus'), undefined);
    });

    it('reports Dex config mistakes at their keys', async () => {
      const issues = (value: Record<string, unknown>): string[] =>
        configSchema.safeParse(value).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
      assert.deepEqual(issues({ ssoURL: idp.ssoUrl, redirectURI: ACS, usernameAttr: 'name', emailAttr: 'email' }), [
        "ca: must provide either 'ca' or 'caData'",
      ]);
      assert.match(issues(config({ ca: '/etc/idp.pem' })).join(), /either 'ca' or 'caData'/);
      assert.match(
        issues(config({ caData: base64('not a certificate') })).join(),
        /^caData: must be base64 of PEM certificates/,
      );
      assert.match(issues(config({ caData: base64(makeSigningKey().privateKey) })).join(), /trailing data/);
      assert.match(
        issues(config({ insecureSkipSignatureValidation: true })).join(),
        /^insecureSkipSignatureValidation: .*not supported/,
      );
      assert.match(issues(config({ nameIDPolicyFormat: 'bogus' })).join(), /^nameIDPolicyFormat: /);
      assert.match(issues(config({ usernameAttr: undefined })).join(), /^usernameAttr: /);
      await assert.rejects(openConnector('saml', 'corp', config({ ssoIssuer: 1 }), deps), ConnectorConfigError);
    });
  });
});
