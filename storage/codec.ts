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

/**
 * Where a value sits, as the keys and indexes from the root. Kept as a stack and turned into text only for an
 * error: every row read and written walks this codec, and most never fail. Paths name keys but never values, since
 * a refused value may be a secret.
 */
type Path = (string | number)[];

const formatPath = (path: Path): string => {
  let text = '$';
  for (const step of path) {
    if (typeof step === 'number') text += `[${step}]`;
    else text += /^[A-Za-z_$][\w$]*$/.test(step) ? `.${step}` : `[${JSON.stringify(step)}]`;
  }
  return text;
};

const escapeKey = (key: string): string => (key.startsWith('$') ? `$${key}` : key);

/** Sets `key` as an own data property: a "__proto__" key stays data instead of changing the prototype. */
const setData = <V>(target: Record<string, V>, key: string, value: V): void => {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
};

function encode(value: unknown, path: Path, ancestors: Set<object>): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new CodecError(`cannot store a non-finite number at ${formatPath(path)}`);
      return value;
    case 'object':
      break;
    default:
      throw new CodecError(`cannot store a value of type ${typeof value} at ${formatPath(path)}`);
  }
  if (value === null) return null;
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw new CodecError(`cannot store an invalid Date at ${formatPath(path)}`);
    return { [DATE_TAG]: ms };
  }
  if (value instanceof Uint8Array) {
    return { [BYTES_TAG]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (ancestors.has(value)) throw new CodecError(`cannot store a cyclic value at ${formatPath(path)}`);
  ancestors.add(value);
  if (Array.isArray(value)) {
    const items: JsonValue[] = new Array<JsonValue>(value.length);
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      // JSON would turn a hole or undefined into null, which reads back as a different value.
      const item: unknown = value[i];
      if (item === undefined) throw new CodecError(`cannot store undefined at ${formatPath(path)}`);
      items[i] = encode(item, path, ancestors);
      path.pop();
    }
    ancestors.delete(value);
    return items;
  }
  if (!isPlainObject(value)) {
    const kind = value.constructor?.name ?? 'object';
    throw new CodecError(`cannot store a ${kind} at ${formatPath(path)}`);
  }
  const fields: Record<string, JsonValue> = {};
  for (const key of Object.keys(value)) {
    const field = value[key];
    if (field === undefined) continue; // an absent optional field reads back as absent
    path.push(key);
    setData(fields, escapeKey(key), encode(field, path, ancestors));
    path.pop();
  }
  ancestors.delete(value);
  return fields;
}

/** Converts a value built from plain objects, arrays, Dates and Uint8Arrays into tagged JSON; throws CodecError on anything else. */
export const toJsonValue = (value: unknown): JsonValue => encode(value, [], new Set());

function decode(json: unknown, path: Path): unknown {
  if (json === null || typeof json !== 'object') return json;
  if (Array.isArray(json)) {
    const items: unknown[] = new Array<unknown>(json.length);
    for (let i = 0; i < json.length; i++) {
      path.push(i);
      items[i] = decode(json[i], path);
      path.pop();
    }
    return items;
  }
  const document = json as Record<string, unknown>;
  const keys = Object.keys(document);
  const [only] = keys;
  if (keys.length === 1 && only !== undefined) {
    const payload = document[only];
    if (only === DATE_TAG) {
      if (typeof payload !== 'number' || !Number.isFinite(payload))
        throw new CodecError(`malformed $date at ${formatPath(path)}`);
      return new Date(payload);
    }
    if (only === BYTES_TAG) {
      if (typeof payload !== 'string') throw new CodecError(`malformed $bytes at ${formatPath(path)}`);
      // Copy into a plain Uint8Array: callers compare and clone it, and a pooled Buffer would expose its pool.
      return new Uint8Array(Buffer.from(payload, 'base64'));
    }
  }
  const fields: Record<string, unknown> = {};
  for (const stored of keys) {
    let key = stored;
    if (stored.startsWith('$')) {
      // The encoder doubles every leading `$`, so a single one here means the document was not ours.
      if (!stored.startsWith('$$'))
        throw new CodecError(`unknown tag ${JSON.stringify(stored)} at ${formatPath(path)}`);
      key = stored.slice(1);
    }
    path.push(key);
    setData(fields, key, decode(document[stored], path));
    path.pop();
  }
  return fields;
}

/** Inverse of `toJsonValue`: rebuilds Dates and Uint8Arrays from parsed JSON (e.g. a PostgreSQL json column). */
export const fromJsonValue = (json: unknown): unknown => decode(json, []);

/** Serialises a value to tagged JSON text. */
export const encodeJson = (value: unknown): string => JSON.stringify(toJsonValue(value));

/** Parses tagged JSON text written by `encodeJson`. */
export const decodeJson = (text: string): unknown => fromJsonValue(JSON.parse(text));
