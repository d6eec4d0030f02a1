/**
 * Dex's claim rules of the oidc connector (connector/oidc/oidc.go createIdentity) as plain
 * functions: the cases an upstream OP in a test cannot easily produce (group objects, a single group
 * as a string, malformed groups, filters).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ConnectorError } from '../../connectors/connector.js';
import { claimRules, mapClaims, REFUSED } from '../../connectors/oidc/claims.js';
import { configSchema } from '../../connectors/oidc/config.js';

const base = {
  issuer: 'https://op.example.com',
  clientID: 'idport',
  clientSecret: 's',
  redirectURI: 'https://idport.example.com/callback',
};
const rules = (config: Record<string, unknown> = {}, scopes = ['openid', 'profile', 'email']) =>
  claimRules(configSchema.parse({ ...base, insecureEnableGroups: true, ...config }), scopes);
const user = { sub: 'u1', name: 'User One', email: 'u1@example.org', email_verified: true };

function refusedWith(userMessage: string, logged: RegExp) {
  return (err: unknown): true => {
    assert.ok(err instanceof ConnectorError);
    assert.equal(err.userMessage, userMessage);
    assert.match(err.message, logged);
    return true;
  };
}

describe('oidc claim mapping', () => {
  test('reads groups given as objects with a name, and a single group given as a string', () => {
    assert.deepEqual(mapClaims({ ...user, groups: [{ name: 'a' }, 'b'] }, rules()).groups, ['a', 'b']);
    assert.deepEqual(mapClaims({ ...user, groups: 'solo' }, rules()).groups, ['solo']);
  });

  test('refuses a groups claim with entries that are neither strings nor named objects', () => {
    assert.throws(
      () => mapClaims({ ...user, groups: ['a', 42] }, rules()),
      refusedWith(REFUSED.incomplete, /claim "groups" is malformed/),
    );
  });

  test('keeps only groups matching groupsFilter, before allowedGroups and name modifications', () => {
    const r = rules({
      allowedGroups: ['team-a', 'other'],
      claimModifications: {
        filterGroupClaims: { groupsFilter: '^team-' },
        modifyGroupNames: { prefix: 'oidc:', suffix: '!' },
      },
    });
    assert.deepEqual(mapClaims({ ...user, groups: ['team-a', 'team-b', 'other'] }, r).groups, ['oidc:team-a!']);
  });

  test('reads the mapped groups key when the standard one is not a list, as Dex', () => {
    const r = rules({ claimMapping: { groups: 'roles' } });
    assert.deepEqual(mapClaims({ ...user, roles: ['r1'] }, r).groups, ['r1']);
    assert.deepEqual(mapClaims({ ...user, groups: ['g1'], roles: ['r1'] }, r).groups, ['g1']);
    assert.deepEqual(
      mapClaims(
        { ...user, groups: ['g1'], roles: ['r1'] },
        rules({ claimMapping: { groups: 'roles' }, overrideClaimMapping: true }),
      ).groups,
      ['r1'],
    );
  });

  test('builds groups from claims with newGroupFromClaims, even without insecureEnableGroups', () => {
    const r = rules({
      insecureEnableGroups: false,
      claimModifications: {
        newGroupFromClaims: [
          { claims: ['org', 'team', 'missing'], delimiter: ':', clearDelimiter: true, prefix: 'gh' },
        ],
      },
    });
    assert.deepEqual(mapClaims({ ...user, groups: ['ignored'], org: 'ac:me', team: 'ops' }, r).groups, ['gh:acme:ops']);
  });

  test('requires sub, the userNameKey claim and, with the email scope, an email', () => {
    assert.throws(
      () => mapClaims({ name: 'x', email: 'e', email_verified: true }, rules()),
      refusedWith(REFUSED.incomplete, /no "sub"/),
    );
    assert.throws(
      () => mapClaims({ ...user, name: undefined }, rules()),
      refusedWith(REFUSED.incomplete, /no string "name" \(userNameKey\)/),
    );
    assert.throws(
      () => mapClaims({ ...user, email: undefined }, rules()),
      refusedWith(REFUSED.incomplete, /no string "email"/),
    );
    const noEmailScope = mapClaims({ sub: 'u1', name: 'n' }, rules({}, ['openid', 'profile']));
    assert.deepEqual([noEmailScope.email, noEmailScope.emailVerified], [undefined, false]);
  });

  test('takes the user id from userIDKey and refuses when that claim is missing', () => {
    assert.equal(mapClaims({ ...user, oid: 'object-id' }, rules({ userIDKey: 'oid' })).userId, 'object-id');
    assert.throws(
      () => mapClaims(user, rules({ userIDKey: 'oid' })),
      refusedWith(REFUSED.incomplete, /no string "oid" \(userIDKey\)/),
    );
  });

  test('counts a non-boolean email_verified as missing, as Dex', () => {
    assert.throws(
      () => mapClaims({ ...user, email_verified: 'true' }, rules()),
      refusedWith(REFUSED.emailNotVerified, /no boolean "email_verified"/),
    );
    assert.equal(
      mapClaims({ ...user, email_verified: 'true' }, rules({ insecureSkipEmailVerified: true })).emailVerified,
      true,
    );
  });
});
