/**
 * The custom resources the Kubernetes backend keeps its objects in. Dex's ten kinds under
 * `dex.coreos.com/v1` are byte for byte Dex's (storage/kubernetes/types.go), pluralisation artefacts
 * (`signingkeies`, `offlinesessionses`) included, so an installation's objects carry over. What Dex does
 * not store (browser sessions, password-failure counts, revoked access tokens) lives in kinds of idport's own group.
 */

/** One custom resource: where its objects live and how its definition is named. */
export interface Resource {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
}

export const DEX_GROUP = 'dex.coreos.com';
/** idport's own API group, for kinds Dex does not have. */
export const IDPORT_GROUP = 'idport.dev';

const dex = (kind: string, plural: string, singular: string): Resource => ({
  group: DEX_GROUP,
  version: 'v1',
  kind,
  plural,
  singular,
});

const own = (kind: string, plural: string, singular: string): Resource => ({
  group: IDPORT_GROUP,
  version: 'v1',
  kind,
  plural,
  singular,
});

export const resources = {
  authCodes: dex('AuthCode', 'authcodes', 'authcode'),
  authRequests: dex('AuthRequest', 'authrequests', 'authrequest'),
  clients: dex('OAuth2Client', 'oauth2clients', 'oauth2client'),
  // Dex's names from the ThirdPartyResource days, when Kubernetes pluralised by appending "es".
  keys: dex('SigningKey', 'signingkeies', 'signingkey'),
  refreshTokens: dex('RefreshToken', 'refreshtokens', 'refreshtoken'),
  passwords: dex('Password', 'passwords', 'password'),
  offlineSessions: dex('OfflineSessions', 'offlinesessionses', 'offlinesessions'),
  connectors: dex('Connector', 'connectors', 'connector'),
  deviceRequests: dex('DeviceRequest', 'devicerequests', 'devicerequest'),
  deviceTokens: dex('DeviceToken', 'devicetokens', 'devicetoken'),
  sessions: own('Session', 'sessions', 'session'),
  passwordFailures: own('PasswordFailures', 'passwordfailures', 'passwordfailures'),
  revokedTokens: own('RevokedToken', 'revokedtokens', 'revokedtoken'),
} as const satisfies Record<string, Resource>;

/** Every resource the backend needs, in the order they are checked and created at start. */
export const allResources: readonly Resource[] = Object.values(resources);

/** `apiVersion` of a resource's objects. */
export const apiVersionOf = (r: Resource): string => `${r.group}/${r.version}`;

/** The CustomResourceDefinition Dex posts (apiextensions.k8s.io/v1): namespaced, one served version, any fields kept. */
export const customResourceDefinition = (r: Resource): Record<string, unknown> => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${r.plural}.${r.group}` },
  spec: {
    group: r.group,
    names: { plural: r.plural, singular: r.singular, kind: r.kind },
    scope: 'Namespaced',
    versions: [
      {
        name: r.version,
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      },
    ],
  },
});
