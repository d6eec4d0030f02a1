/**
 * The two objects whose Dex shape needs more than a field table: connectors (Dex stores the connector's
 * JSON config as a byte slice) and the signing key set (one object, `openid-connect-keys`).
 */
import { CodecError, decodeJson, encodeJson, type JsonValue } from '../codec.js';
import type { ConnectorRecord, Keys } from '../storage.js';
import { resources } from './crds.js';
import { extensionOf, field, fromDexBody, parseTime, toDexBody, type KubeObject } from './fields.js';
import { nameForId } from './names.js';
import type { ObjectSpec } from './objects.js';

const connectorFields = [field('id', 'id', 'string'), field('type', 'type', 'string'), field('name', 'name', 'string')];

/** Config bytes: idport writes its codec's JSON (plain JSON for plain config); Dex wrote plain JSON. */
const decodeConfig = (value: unknown): unknown => {
  if (typeof value !== 'string' || value === '') return {};
  const text = Buffer.from(value, 'base64').toString('utf8');
  try {
    return decodeJson(text);
  } catch (err: unknown) {
    if (err instanceof CodecError) return JSON.parse(text) as unknown;
    throw err;
  }
};

export const connectorSpec: ObjectSpec<string, ConnectorRecord> = {
  what: 'connector',
  resource: resources.connectors,
  keyOf: (c) => c.id,
  keyString: (id) => id,
  nameOf: nameForId,
  toBody: (c) => {
    const { config, ...rest } = c;
    return { ...toDexBody(rest, connectorFields), config: Buffer.from(encodeJson(config), 'utf8').toString('base64') };
  },
  // Dex's connector version is the object's resourceVersion; idport's own is kept in the extension.
  fromObject: (obj: KubeObject) =>
    ({
      ...fromDexBody(obj, connectorFields),
      resourceVersion: obj.metadata?.resourceVersion ?? '',
      config: decodeConfig(obj['config']),
      ...extensionOf(obj),
    }) as unknown as ConnectorRecord,
};

/** Dex's single key-set object. */
export const KEYS_NAME = 'openid-connect-keys';
export const keysResource = resources.keys;

/** Dex's Keys: JWKs as go-jose writes them (plain JWK JSON), times in RFC 3339. */
export const keysToBody = (keys: Keys): Record<string, JsonValue> => ({
  signingKey: keys.signingKey as JsonValue,
  signingKeyPub: keys.signingKeyPub as JsonValue,
  verificationKeys: keys.verificationKeys.map((k) => ({
    publicKey: k.publicKey as JsonValue,
    expiry: k.expiry.toISOString(),
  })),
  nextRotation: keys.nextRotation.toISOString(),
});

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Keys from the object; undefined when it holds no signing key (Dex creates it empty before the first rotation). */
export const keysFromObject = (obj: KubeObject): Keys | undefined => {
  const { signingKey, signingKeyPub, verificationKeys } = obj;
  if (!isObject(signingKey) || !isObject(signingKeyPub)) return undefined;
  return {
    signingKey,
    signingKeyPub,
    verificationKeys: (Array.isArray(verificationKeys) ? verificationKeys : []).filter(isObject).map((k) => ({
      publicKey: isObject(k['publicKey']) ? k['publicKey'] : {},
      expiry: parseTime(k['expiry']) ?? new Date(0),
    })),
    nextRotation: parseTime(obj['nextRotation']) ?? new Date(0),
  };
};
