/**
 * Go's JSON encodings of Dex's field types (storage/kubernetes/types.go) and a table-driven mapping between
 * an idport entity and a Dex object: the fields Dex has go where Dex puts them, in Dex's encodings (RFC 3339
 * times, base64 byte slices); everything else idport keeps goes under one `idport` field, in idport's own
 * codec. Dex's CRDs keep unknown fields, and Dex ignores them when it reads.
 */
import { toJsonValue, fromJsonValue, type JsonValue } from '../codec.js';
import type { Claims } from '../storage.js';

/** A Kubernetes object as JSON. */
export type KubeObject = Record<string, unknown> & {
  readonly metadata?: { readonly name?: string; readonly resourceVersion?: string; readonly [k: string]: unknown };
};

/** The field holding what Dex has no field for. */
export const EXTENSION_FIELD = 'idport';

type Kind = 'string' | 'strings' | 'bool' | 'number' | 'date' | 'bytes' | 'claims';

/** One idport field stored in a Dex field. */
export interface Field {
  readonly key: string;
  readonly json: string;
  readonly kind: Kind;
  /** Optional in idport: absent stays absent. Required fields Dex omitted read as the type's zero value. */
  readonly optional?: boolean;
}

export const field = (key: string, json: string, kind: Kind, optional = false): Field => ({
  key,
  json,
  kind,
  optional,
});

/** Go's zero time.Time, which Dex writes for a time it never set. */
const GO_ZERO_TIME = Date.parse('0001-01-01T00:00:00Z');

/** Parses an RFC 3339 time as Go writes it (nanoseconds are cut to milliseconds). */
export const parseTime = (value: unknown): Date | undefined => {
  if (typeof value !== 'string') return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
};

const isGoZero = (date: Date): boolean => date.getTime() === GO_ZERO_TIME;

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

export const encodeClaims = (c: Claims): JsonValue => ({
  userID: c.userId,
  username: c.username,
  preferredUsername: c.preferredUsername,
  email: c.email,
  emailVerified: c.emailVerified,
  groups: [...c.groups],
});

export const decodeClaims = (value: unknown): Claims => {
  const c = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  return {
    userId: text(c['userID']),
    username: text(c['username']),
    preferredUsername: text(c['preferredUsername']),
    email: text(c['email']),
    emailVerified: c['emailVerified'] === true,
    groups: strings(c['groups']),
  };
};

export const encodeBytes = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export const decodeBytes = (value: unknown): Uint8Array => new Uint8Array(Buffer.from(text(value), 'base64'));

const encode = (kind: Kind, value: unknown): JsonValue => {
  switch (kind) {
    case 'date':
      return (value as Date).toISOString();
    case 'bytes':
      return encodeBytes(value as Uint8Array);
    case 'claims':
      return encodeClaims(value as Claims);
    case 'strings':
      return [...(value as string[])];
    default:
      return value as JsonValue;
  }
};

/** Reads a Dex field; undefined when it is absent (or Go's zero time) and the idport field is optional. */
const decode = (f: Field, value: unknown): unknown => {
  switch (f.kind) {
    case 'string':
      return value === undefined && f.optional ? undefined : text(value);
    case 'strings':
      return value === undefined && f.optional ? undefined : strings(value);
    case 'bool':
      return value === undefined && f.optional ? undefined : value === true;
    case 'number':
      return typeof value === 'number' ? value : f.optional ? undefined : 0;
    case 'bytes':
      return value === undefined ? (f.optional ? undefined : new Uint8Array(0)) : decodeBytes(value);
    case 'claims':
      return value === undefined && f.optional ? undefined : decodeClaims(value);
    case 'date': {
      const date = parseTime(value);
      if (date !== undefined && !(f.optional && isGoZero(date))) return date;
      return f.optional ? undefined : new Date(0);
    }
  }
};

/** The Dex fields of `value`, plus the `idport` extension holding every other defined field (and `extra`). */
export const toDexBody = (
  value: object,
  fields: readonly Field[],
  extra: Record<string, unknown> = {},
): Record<string, JsonValue> => {
  const body: Record<string, JsonValue> = {};
  const rest: Record<string, unknown> = { ...extra };
  const mapped = new Set(fields.map((f) => f.key));
  for (const f of fields) {
    const v = (value as Record<string, unknown>)[f.key];
    if (v !== undefined) body[f.json] = encode(f.kind, v);
  }
  for (const [k, v] of Object.entries(value)) if (!mapped.has(k) && v !== undefined) rest[k] = v;
  if (Object.keys(rest).length > 0) body[EXTENSION_FIELD] = toJsonValue(rest);
  return body;
};

/** The idport extension of an object, decoded; empty for an object Dex wrote. */
export const extensionOf = (obj: KubeObject): Record<string, unknown> => {
  const ext = obj[EXTENSION_FIELD];
  if (typeof ext !== 'object' || ext === null) return {};
  return fromJsonValue(ext) as Record<string, unknown>;
};

/** The idport fields read from Dex's fields; those it leaves absent are dropped. */
export const fromDexBody = (obj: KubeObject, fields: readonly Field[]): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = decode(f, obj[f.json]);
    if (v !== undefined) out[f.key] = v;
  }
  return out;
};
