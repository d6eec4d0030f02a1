/**
 * The custom resources the Kubernetes backend keeps its objects in. Dex's ten kinds under
 * `dex.coreos.com/v1` are byte for byte Dex's (storage/kubernetes/types.go), pluralisation artefacts
 * (`signingkeies`, `offlinesessionses`) included, so an installation's objects carry over. What Dex does
 * not store (browser sessions, password-failure counts, revoked access tokens) lives in kinds of idport's own group,
 * or, when the service account may not use that group (the RBAC of Dex's chart covers `dex.coreos.com` only), in
 * the same kinds with an `Idport` prefix inside Dex's group.
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
} as const satisfies Record<string, Resource>;

/** Dex's kinds, in the order they are checked and created at start. */
export const dexResources: readonly Resource[] = Object.values(resources);

/** Where idport's own entities live: one resource per storage table Dex does not have. */
export interface OwnKinds {
  readonly sessions: Resource;
  readonly passwordFailures: Resource;
  readonly revokedTokens: Resource;
}

/** idport's kinds in its own group: used whenever the service account may use that group. */
export const ownKinds: OwnKinds = {
  sessions: own('Session', 'sessions', 'session'),
  passwordFailures: own('PasswordFailures', 'passwordfailures', 'passwordfailures'),
  revokedTokens: own('RevokedToken', 'revokedtokens', 'revokedtoken'),
};

/**
 * The same kinds inside Dex's group, prefixed so they cannot clash with a kind Dex may add: for a service account
 * with only the RBAC of Dex's chart (or of a manifest written for Dex), which grants every verb on
 * `dex.coreos.com` and nothing on `idport.dev`.
 */
export const fallbackKinds: OwnKinds = {
  sessions: dex('IdportSession', 'idportsessions', 'idportsession'),
  passwordFailures: dex('IdportPasswordFailures', 'idportpasswordfailures', 'idportpasswordfailures'),
  revokedTokens: dex('IdportRevokedToken', 'idportrevokedtokens', 'idportrevokedtoken'),
};

/** A kinds table as a list, in a fixed order. */
export const kindList = (kinds: OwnKinds): readonly Resource[] => [
  kinds.sessions,
  kinds.passwordFailures,
  kinds.revokedTokens,
];

/** `plural.group`: the CRD's name, and how messages name a resource. */
export const crdName = (r: Resource): string => `${r.plural}.${r.group}`;

/** `apiVersion` of a resource's objects. */
export const apiVersionOf = (r: Resource): string => `${r.group}/${r.version}`;

/** The CustomResourceDefinition Dex posts (apiextensions.k8s.io/v1): namespaced, one served version, any fields kept. */
export const customResourceDefinition = (r: Resource): Record<string, unknown> => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: crdName(r) },
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
