/**
 * The JSON codec SQL backends use for entity rows. Plain JSON loses `Date` (becomes a string) and
 * `Uint8Array` (becomes an index-keyed object), so both are written as tagged objects at any depth:
 * `{"$date": <epoch ms>}` and `{"$bytes": "<base64>"}`. A data key that starts with `$` (e.g. in a
 * connector's free-form config) is escaped by doubling the `$`, so data can never be mistaken for a tag.
 * Anything JSON would silently change (NaN, undefined in arrays, Map, class instances) is refused instead.
 */

/** A value JSON can represent exactly; what `toJsonValue` produces and `fromJsonValue` accepts. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const DATE_TAG = '$date';
const BYTES_TAG = '$bytes';

/** Thrown when a value cannot be stored faithfully, or a stored document was not written by this codec. */
export class CodecError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

const isPlainObject = (value: object): value is Record<string, unknown> => {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

// Paths name keys but never values: a refused value may be a secret.
const child = (path: string, key: string): string =>
  /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;

const escapeKey = (key: string): string => (key.startsWith('$') ? `$${key}` : key);

function encode(value: unknown, path: string, ancestors: Set<object>): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new CodecError(`cannot store a non-finite number at ${path}`);
      return value;
    case 'object':
      break;
    default:
      throw new CodecError(`cannot store a value of type ${typeof value} at ${path}`);
  }
  if (value === null) return null;
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw new CodecError(`cannot store an invalid Date at ${path}`);
    return { [DATE_TAG]: ms };
  }
  if (value instanceof Uint8Array) {
    return { [BYTES_TAG]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (ancestors.has(value)) throw new CodecError(`cannot store a cyclic value at ${path}`);
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      return value.map((item: unknown, i) => {
        // JSON would turn a hole or undefined into null, which reads back as a different value.
        if (item === undefined) throw new CodecError(`cannot store undefined at ${path}[${i}]`);
        return encode(item, `${path}[${i}]`, ancestors);
      });
    }
    if (!isPlainObject(value)) {
      const kind = value.constructor?.name ?? 'object';
      throw new CodecError(`cannot store a ${kind} at ${path}`);
    }
    // fromEntries defines own properties, so a "__proto__" key stays data instead of changing the prototype.
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined) // an absent optional field reads back as absent
        .map(([k, v]) => [escapeKey(k), encode(v, child(path, k), ancestors)]),
    );
  } finally {
    ancestors.delete(value);
  }
}

/** Converts a value built from plain objects, arrays, Dates and Uint8Arrays into tagged JSON; throws CodecError on anything else. */
export const toJsonValue = (value: unknown): JsonValue => encode(value, '$', new Set());

function decode(json: unknown, path: string): unknown {
  if (json === null || typeof json !== 'object') return json;
  if (Array.isArray(json)) return json.map((item: unknown, i) => decode(item, `${path}[${i}]`));
  const entries = Object.entries(json);
  const [only] = entries;
  if (entries.length === 1 && only !== undefined) {
    const [tag, payload] = only;
    if (tag === DATE_TAG) {
      if (typeof payload !== 'number' || !Number.isFinite(payload)) throw new CodecError(`malformed $date at ${path}`);
      return new Date(payload);
    }
    if (tag === BYTES_TAG) {
      if (typeof payload !== 'string') throw new CodecError(`malformed $bytes at ${path}`);
      // Copy into a plain Uint8Array: callers compare and clone it, and a pooled Buffer would expose its pool.
      return new Uint8Array(Buffer.from(payload, 'base64'));
    }
  }
  return Object.fromEntries(
    entries.map(([k, v]) => {
      if (k.startsWith('$$')) return [k.slice(1), decode(v, child(path, k.slice(1)))];
      // The encoder doubles every leading `$`, so a single one here means the document was not ours.
      if (k.startsWith('$')) throw new CodecError(`unknown tag ${JSON.stringify(k)} at ${path}`);
      return [k, decode(v, child(path, k))];
    }),
  );
}

/** Inverse of `toJsonValue`: rebuilds Dates and Uint8Arrays from parsed JSON (e.g. a PostgreSQL json column). */
export const fromJsonValue = (json: unknown): unknown => decode(json, '$');

/** Serialises a value to tagged JSON text. */
export const encodeJson = (value: unknown): string => JSON.stringify(toJsonValue(value));

/** Parses tagged JSON text written by `encodeJson`. */
export const decodeJson = (text: string): unknown => fromJsonValue(JSON.parse(text));
