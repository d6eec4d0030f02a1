/**
 * How each entity becomes a Kubernetes object: its resource, its object name (as Dex names it), and its
 * body (Dex's fields where Dex has them). Reading tolerates objects Dex wrote, which lack the extension.
 */
import { createHash } from 'node:crypto';
import type { JsonValue } from '../codec.js';
import type {
  AuthCode,
  AuthRequest,
  Client,
  DeviceRequest,
  DeviceToken,
  OfflineSession,
  OfflineSessionKey,
  Password,
  PasswordFailures,
  RevokedToken,
  RefreshToken,
  RefreshTokenRef,
  Session,
} from '../storage.js';
import { resources, type Resource } from './crds.js';
import { extensionOf, field, fromDexBody, parseTime, toDexBody, type Field, type KubeObject } from './fields.js';
import { idToName, nameForId, offlineTokenName } from './names.js';

/** One entity's objects. */
export interface ObjectSpec<K, T> {
  /** Entity name for error messages ("auth request"). */
  readonly what: string;
  readonly resource: Resource;
  readonly keyOf: (value: T) => K;
  /** The key as a comparable string (emails lower-cased). */
  readonly keyString: (key: K) => string;
  readonly nameOf: (key: K) => string;
  readonly toBody: (value: T) => Record<string, JsonValue>;
  readonly fromObject: (obj: KubeObject) => T;
  /** Present for entities garbage collection removes. */
  readonly expiryOf?: (value: T) => Date | undefined;
}

const nameOfObject = (obj: KubeObject): string => obj.metadata?.name ?? '';

/**
 * An entity whose id Dex uses as the object name. The id goes into the extension only when the name is
 * not the id itself (a hashed name, or a user code Dex lower-cases).
 */
interface NamedById<T> {
  readonly what: string;
  readonly resource: Resource;
  readonly idKey: keyof T & string;
  readonly fields: readonly Field[];
  /** Dex's name for an id, and the id it reads back from a name. */
  readonly nameOfId?: (id: string) => string;
  readonly idOfName?: (name: string) => string;
  /** Values for idport fields an object written by Dex does not have. */
  readonly dexDefaults?: (obj: KubeObject) => Record<string, unknown>;
  readonly expiring?: boolean;
}

function namedById<T extends object>(spec: NamedById<T>): ObjectSpec<string, T> {
  const nameOfId = spec.nameOfId ?? nameForId;
  const idOfName = spec.idOfName ?? ((name: string) => name);
  return {
    what: spec.what,
    resource: spec.resource,
    keyOf: (value) => (value as Record<string, unknown>)[spec.idKey] as string,
    keyString: (key) => key,
    nameOf: nameOfId,
    toBody: (value) => {
      const id = (value as Record<string, unknown>)[spec.idKey] as string;
      const { [spec.idKey]: _id, ...rest } = value as Record<string, unknown>;
      return toDexBody(rest, spec.fields, idOfName(nameOfId(id)) === id ? {} : { [spec.idKey]: id });
    },
    fromObject: (obj) =>
      ({
        ...spec.dexDefaults?.(obj),
        ...fromDexBody(obj, spec.fields),
        [spec.idKey]: idOfName(nameOfObject(obj)),
        ...extensionOf(obj),
      }) as T,
    ...(spec.expiring === true ? { expiryOf: (value: T) => (value as { expiry?: Date | undefined }).expiry } : {}),
  };
}

const pkce = [
  field('codeChallenge', 'code_challenge', 'string'),
  field('codeChallengeMethod', 'code_challenge_method', 'string'),
];

export const authRequestSpec = namedById<AuthRequest>({
  what: 'auth request',
  resource: resources.authRequests,
  idKey: 'id',
  expiring: true,
  fields: [
    field('clientId', 'clientID', 'string'),
    field('responseTypes', 'responseTypes', 'strings'),
    field('scopes', 'scopes', 'strings'),
    field('redirectUri', 'redirectURI', 'string'),
    field('nonce', 'nonce', 'string'),
    field('state', 'state', 'string'),
    field('forceApproval', 'forceApprovalPrompt', 'bool'),
    field('loggedIn', 'loggedIn', 'bool'),
    field('claims', 'claims', 'claims', true),
    field('connectorId', 'connectorID', 'string'),
    field('connectorData', 'connectorData', 'bytes', true),
    field('expiry', 'expiry', 'date'),
    ...pkce,
  ],
  // A login Dex started cannot be finished by idport (its browser binding is missing); these only make it readable.
  dexDefaults: () => ({
    redirectUriSent: true,
    responseMode: 'query',
    prompt: [],
    loginHint: '',
    csrfToken: '',
    browserHash: '',
  }),
});

export const authCodeSpec = namedById<AuthCode>({
  what: 'auth code',
  resource: resources.authCodes,
  idKey: 'id',
  expiring: true,
  fields: [
    field('clientId', 'clientID', 'string'),
    field('scopes', 'scopes', 'strings'),
    field('redirectUri', 'redirectURI', 'string'),
    field('nonce', 'nonce', 'string'),
    field('claims', 'claims', 'claims'),
    field('connectorId', 'connectorID', 'string'),
    field('connectorData', 'connectorData', 'bytes', true),
    field('expiry', 'expiry', 'date'),
    ...pkce,
  ],
  // Dex keeps no auth_time for a code; the epoch makes any max_age check treat it as old, never as fresh.
  dexDefaults: () => ({ authTime: new Date(0) }),
});

/** SHA-256, base64url: how idport stores a refresh secret; Dex stored Dex's in the clear. */
const sha256 = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('base64url');

export const refreshTokenSpec = namedById<RefreshToken>({
  what: 'refresh token',
  resource: resources.refreshTokens,
  idKey: 'id',
  expiring: true,
  fields: [
    // Dex's RefreshToken has no JSON tags on these two, so Go writes its field names.
    field('createdAt', 'CreatedAt', 'date'),
    field('lastUsed', 'LastUsed', 'date'),
    field('clientId', 'clientID', 'string'),
    field('scopes', 'scopes', 'strings'),
    field('nonce', 'nonce', 'string'),
    field('claims', 'claims', 'claims'),
    field('connectorId', 'connectorID', 'string'),
    field('connectorData', 'connectorData', 'bytes', true),
  ],
  // A token Dex issued: its secret is `token` in the clear (and `obsoleteToken` the one it replaced), hashed here
  // so the refresh grant checks it like its own; idport's next write drops the clear text.
  dexDefaults: (obj) => {
    const token = typeof obj['token'] === 'string' ? obj['token'] : '';
    const obsolete = typeof obj['obsoleteToken'] === 'string' ? obj['obsoleteToken'] : '';
    return {
      currentHash: token === '' ? '' : sha256(token),
      previousHash: obsolete === '' ? '' : sha256(obsolete),
      rotationNonce: '',
      authTime: parseTime(obj['CreatedAt']) ?? new Date(0),
    };
  },
});

export const deviceRequestSpec = namedById<DeviceRequest>({
  what: 'device request',
  resource: resources.deviceRequests,
  idKey: 'userCode',
  expiring: true,
  // Dex names a device request by its user code in lower case and upper-cases the name when reading.
  nameOfId: (code) => nameForId(code.toLowerCase()),
  idOfName: (name) => name.toUpperCase(),
  fields: [
    field('deviceCode', 'device_code', 'string'),
    field('clientId', 'client_id', 'string'),
    field('scopes', 'scopes', 'strings'),
    field('expiry', 'expiry', 'date'),
  ],
});

const deviceTokenBase = namedById<DeviceToken>({
  what: 'device token',
  resource: resources.deviceTokens,
  idKey: 'deviceCode',
  expiring: true,
  fields: [
    field('status', 'status', 'string'),
    field('token', 'token', 'string'),
    field('expiry', 'expiry', 'date'),
    field('lastRequestTime', 'last_request', 'date'),
    field('pollIntervalSeconds', 'poll_interval', 'number'),
    ...pkce,
  ],
});

/** Dex's pending status is the RFC 8628 error code. */
const DEX_PENDING = 'authorization_pending';

export const deviceTokenSpec: ObjectSpec<string, DeviceToken> = {
  ...deviceTokenBase,
  toBody: (value) => ({
    ...deviceTokenBase.toBody(value),
    status: value.status === 'pending' ? DEX_PENDING : value.status,
  }),
  fromObject: (obj) => {
    const token = deviceTokenBase.fromObject(obj);
    return (token.status as string) === DEX_PENDING ? { ...token, status: 'pending' } : token;
  },
};

export const clientSpec: ObjectSpec<string, Client> = {
  what: 'client',
  resource: resources.clients,
  keyOf: (c) => c.id,
  keyString: (id) => id,
  nameOf: idToName,
  ...(() => {
    const fields = [
      field('id', 'id', 'string'),
      field('secret', 'secret', 'string'),
      field('redirectURIs', 'redirectURIs', 'strings'),
      field('trustedPeers', 'trustedPeers', 'strings'),
      field('public', 'public', 'bool'),
      field('name', 'name', 'string'),
      field('logoURL', 'logoURL', 'string'),
    ];
    return {
      toBody: (c: Client) => toDexBody(c, fields),
      fromObject: (obj: KubeObject) => ({ ...fromDexBody(obj, fields), ...extensionOf(obj) }) as unknown as Client,
    };
  })(),
};

const passwordFields = [
  field('email', 'email', 'string'),
  field('username', 'username', 'string'),
  field('userId', 'userID', 'string'),
  field('name', 'name', 'string', true),
  field('preferredUsername', 'preferredUsername', 'string', true),
  field('emailVerified', 'emailVerified', 'bool', true),
  field('groups', 'groups', 'strings', true),
];

export const passwordSpec: ObjectSpec<string, Password> = {
  what: 'password',
  resource: resources.passwords,
  keyOf: (p) => p.email,
  keyString: (email) => email.toLowerCase(),
  // Dex lower-cases the email, names the object after it and stores it lower-cased; idport keeps the email
  // as written in the extension, and Dex's []byte hash is the bcrypt text in base64.
  nameOf: (email) => idToName(email.toLowerCase()),
  toBody: (p) => {
    const email = p.email.toLowerCase();
    const { hash, ...rest } = p;
    return {
      ...toDexBody({ ...rest, email }, passwordFields, email === p.email ? {} : { email: p.email }),
      hash: Buffer.from(hash, 'utf8').toString('base64'),
    };
  },
  fromObject: (obj) =>
    ({
      ...fromDexBody(obj, passwordFields),
      hash: Buffer.from(typeof obj['hash'] === 'string' ? obj['hash'] : '', 'base64').toString('utf8'),
      ...extensionOf(obj),
    }) as unknown as Password,
};

/** Dex's RefreshTokenRef has no JSON tags: Go field names. */
const encodeRef = (r: RefreshTokenRef): JsonValue => ({
  ID: r.id,
  ClientID: r.clientId,
  CreatedAt: r.createdAt.toISOString(),
  LastUsed: r.lastUsed.toISOString(),
});

const decodeRef = (value: unknown): RefreshTokenRef => {
  const r = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  return {
    id: typeof r['ID'] === 'string' ? r['ID'] : '',
    clientId: typeof r['ClientID'] === 'string' ? r['ClientID'] : '',
    createdAt: parseTime(r['CreatedAt']) ?? new Date(0),
    lastUsed: parseTime(r['LastUsed']) ?? new Date(0),
  };
};

const offlineFields = [
  field('userId', 'userID', 'string'),
  field('connectorId', 'connID', 'string'),
  field('connectorData', 'connectorData', 'bytes', true),
];

export const offlineSessionSpec: ObjectSpec<OfflineSessionKey, OfflineSession> = {
  what: 'offline session',
  resource: resources.offlineSessions,
  keyOf: (s) => ({ userId: s.userId, connectorId: s.connectorId }),
  keyString: (k) => JSON.stringify([k.userId, k.connectorId]),
  nameOf: (k) => offlineTokenName(k.userId, k.connectorId),
  toBody: (s) => {
    const { refresh, ...rest } = s;
    return {
      ...toDexBody(rest, offlineFields),
      refresh: Object.fromEntries(Object.entries(refresh).map(([k, r]) => [k, encodeRef(r)])),
    };
  },
  fromObject: (obj) => {
    const refresh = (typeof obj['refresh'] === 'object' && obj['refresh'] !== null ? obj['refresh'] : {}) as Record<
      string,
      unknown
    >;
    return {
      ...fromDexBody(obj, offlineFields),
      refresh: Object.fromEntries(Object.entries(refresh).map(([k, r]) => [k, decodeRef(r)])),
      ...extensionOf(obj),
    } as unknown as OfflineSession;
  },
};

/**
 * idport's own kinds keep the whole entity (but the name) in the extension. Their resource is chosen at start
 * (idport's group, or the prefixed kinds in Dex's group; see crds.ts), so these take it as a parameter.
 */
function ownKind<T extends { id: string }>(what: string, resource: Resource): ObjectSpec<string, T> {
  return namedById<T>({ what, resource, idKey: 'id', fields: [], expiring: true });
}

export const sessionSpec = (r: Resource): ObjectSpec<string, Session> => ownKind<Session>('session', r);
export const passwordFailuresSpec = (r: Resource): ObjectSpec<string, PasswordFailures> =>
  ownKind<PasswordFailures>('password failures', r);
export const revokedTokenSpec = (r: Resource): ObjectSpec<string, RevokedToken> =>
  ownKind<RevokedToken>('revoked token', r);
