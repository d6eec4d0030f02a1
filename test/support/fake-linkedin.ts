/**
 * A stand-in for LinkedIn on a loopback port: the OAuth 2.0 web flow at /oauth/v2/authorization and
 * /oauth/v2/accessToken (test/support/fake-oauth2.ts), and the v2 REST API's GET /v2/me (lite profile)
 * and GET /v2/emailAddress?q=members&projection=(elements*(handle~)), with LinkedIn's 401 body for an
 * unknown or revoked token.
 */
import { type FakeOAuth2, startFakeOAuth2 } from './fake-oauth2.js';

export interface FakeLinkedinMember {
  readonly id: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly email: string;
}

export interface FakeLinkedin extends FakeOAuth2 {
  setMember(member: FakeLinkedinMember): void;
}

/** Starts the fake with its members, keyed by id (the login the authorization page uses). */
export async function startFakeLinkedin(members: readonly FakeLinkedinMember[]): Promise<FakeLinkedin> {
  const byId = new Map(members.map((m) => [m.id, m]));
  const fake = await startFakeOAuth2({
    firstLogin: members[0]?.id ?? 'deny',
    authorizePath: '/oauth/v2/authorization',
    tokenPath: '/oauth/v2/accessToken',
    clientAuth: 'post',
    resources: ({ method, path, query, login }) => {
      if (method !== 'GET' || (path !== '/v2/me' && path !== '/v2/emailAddress')) return undefined;
      const member = login === undefined ? undefined : byId.get(login);
      if (member === undefined)
        return { status: 401, body: { serviceErrorCode: 65600, message: 'Invalid access token', status: 401 } };
      if (path === '/v2/me')
        return {
          status: 200,
          body: {
            localizedLastName: member.lastName,
            localizedFirstName: member.firstName,
            id: member.id,
            firstName: { localized: { en_US: member.firstName }, preferredLocale: { country: 'US', language: 'en' } },
            lastName: { localized: { en_US: member.lastName }, preferredLocale: { country: 'US', language: 'en' } },
          },
        };
      if (query.get('q') !== 'members' || query.get('projection') !== '(elements*(handle~))')
        return { status: 400, body: { serviceErrorCode: 100, message: 'Invalid query', status: 400 } };
      return {
        status: 200,
        body: { elements: [{ handle: 'urn:li:emailAddress:1', 'handle~': { emailAddress: member.email } }] },
      };
    },
  });
  return { ...fake, setMember: (member) => void byId.set(member.id, member) };
}
