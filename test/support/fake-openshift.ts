/**
 * A stand-in for an OpenShift cluster on a loopback port: the OAuth server (test/support/fake-oauth2.ts,
 * at /oauth/authorize and /oauth/token, as oauth-openshift serves them), its discovery document at
 * /.well-known/oauth-authorization-server, and the API's GET /apis/user.openshift.io/v1/users/~ answering a
 * user.openshift.io/v1 User, or a Kubernetes Status (401 for a token that is unknown, revoked, or whose
 * user was deleted, which also deletes the user's tokens in OpenShift).
 */
import { type FakeOAuth2, startFakeOAuth2 } from './fake-oauth2.js';

/** A user of the fake cluster. */
export interface FakeOpenshiftUser {
  readonly name: string;
  readonly uid: string;
  readonly fullName?: string;
  readonly groups: readonly string[] | null;
}

export interface FakeOpenshift extends FakeOAuth2 {
  /** Adds or replaces a user (group changes between login and refresh). */
  setUser(user: FakeOpenshiftUser): void;
  /** Deletes a user, as `oc delete user`: their tokens stop working. */
  deleteUser(name: string): void;
}

const status = (code: number, reason: string, message: string) => ({
  status: code,
  body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code },
});

/** Starts the fake cluster. */
export async function startFakeOpenshift(options: {
  users: readonly FakeOpenshiftUser[];
  accessTokenSeconds?: number;
}): Promise<FakeOpenshift> {
  const users = new Map(options.users.map((u) => [u.name, u]));
  const fake = await startFakeOAuth2({
    firstLogin: options.users[0]?.name ?? 'deny',
    authorizePath: '/oauth/authorize',
    tokenPath: '/oauth/token',
    clientAuth: 'basic',
    ...(options.accessTokenSeconds === undefined ? {} : { accessTokenSeconds: options.accessTokenSeconds }),
    resources: ({ method, path, login, origin }) => {
      if (method === 'GET' && path === '/.well-known/oauth-authorization-server') {
        return {
          status: 200,
          body: {
            issuer: origin,
            authorization_endpoint: `${origin}/oauth/authorize`,
            token_endpoint: `${origin}/oauth/token`,
            scopes_supported: [
              'user:check-access',
              'user:full',
              'user:info',
              'user:list-projects',
              'user:list-scoped-projects',
            ],
            response_types_supported: ['code', 'token'],
            grant_types_supported: ['authorization_code', 'implicit'],
            code_challenge_methods_supported: ['plain', 'S256'],
          },
        };
      }
      if (method !== 'GET' || path !== '/apis/user.openshift.io/v1/users/~') return undefined;
      const user = login === undefined ? undefined : users.get(login);
      if (user === undefined) return status(401, 'Unauthorized', 'Unauthorized');
      return {
        status: 200,
        body: {
          kind: 'User',
          apiVersion: 'user.openshift.io/v1',
          metadata: {
            name: user.name,
            uid: user.uid,
            resourceVersion: '4711',
            creationTimestamp: '2024-01-01T00:00:00Z',
          },
          ...(user.fullName === undefined ? {} : { fullName: user.fullName }),
          identities: [`htpasswd_provider:${user.name}`],
          groups: user.groups,
        },
      };
    },
  });
  return {
    ...fake,
    setUser: (user) => void users.set(user.name, user),
    deleteUser: (name) => {
      users.delete(name);
      fake.revokeTokens(name);
    },
  };
}
