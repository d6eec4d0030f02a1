/**
 * Dex's `sub` encoding (ARCHITECTURE.md decision 2): base64url, without padding, of the protobuf message
 * `IDTokenSubject { string user_id = 1; string conn_id = 2; }`. Using the same bytes means subjects
 * issued by Dex stay valid after a move to idport. The message has two string fields, so a tiny
 * hand-written encoder is clearer than a protobuf dependency.
 */

/** A decoded subject: which user, on which connector. */
export interface Subject {
  readonly userId: string;
  readonly connectorId: string;
}

// Protobuf tag = (field number << 3) | wire type; wire type 2 is "length-delimited" (strings).
const USER_ID_TAG = (1 << 3) | 2;
const CONNECTOR_ID_TAG = (2 << 3) | 2;
// Lengths come from untrusted input; a subject never needs more than 5 varint bytes (2^35).
const MAX_VARINT_BYTES = 5;

const utf8Encoder = new TextEncoder();
// fatal: Go's proto3 unmarshal rejects strings that are not valid UTF-8, and so do we.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function pushVarint(out: number[], value: number): void {
  // Arithmetic instead of `>>>` so lengths above 2^31 cannot wrap (they cannot occur, but stay correct).
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

function pushStringField(out: number[], tag: number, value: string): void {
  // proto3 omits fields holding the default value, so an empty string writes nothing (as Dex's Marshal).
  if (value === '') return;
  const bytes = utf8Encoder.encode(value);
  out.push(tag);
  pushVarint(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** Dex's `sub` for a user of a connector, e.g. ('2342749', 'github') → 'CgcyMzQyNzQ5EgZnaXRodWI'. */
export function encodeSubject(userId: string, connectorId: string): string {
  const out: number[] = [];
  pushStringField(out, USER_ID_TAG, userId);
  pushStringField(out, CONNECTOR_ID_TAG, connectorId);
  return Buffer.from(out).toString('base64url');
}

/** Reads a varint at `offset`; undefined when it runs past the end or is longer than any subject needs. */
function readVarint(bytes: Uint8Array, offset: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const b = bytes[offset + i];
    if (b === undefined) return undefined;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return { value, next: offset + i + 1 };
    scale *= 0x80;
  }
  return undefined;
}

/**
 * The user and connector a `sub` names, or undefined when `sub` is not a subject idport (or Dex)
 * issued: not canonical unpadded base64url, not the two-field message, invalid UTF-8, or a field missing.
 */
export function decodeSubject(sub: string): Subject | undefined {
  // Buffer's base64url decoder skips characters it does not know, so check the alphabet first.
  if (!/^[A-Za-z0-9_-]+$/.test(sub)) return undefined;
  const bytes = Buffer.from(sub, 'base64url');
  // Re-encoding rejects non-canonical spellings (stray trailing bits, an impossible length), so each
  // subject has exactly one string form and comparisons on `sub` stay sound.
  if (bytes.toString('base64url') !== sub) return undefined;

  const fields = new Map<number, string>();
  let offset = 0;
  while (offset < bytes.length) {
    const tag = bytes[offset];
    if (tag !== USER_ID_TAG && tag !== CONNECTOR_ID_TAG) return undefined;
    if (fields.has(tag)) return undefined; // Dex's encoder never repeats a field
    const length = readVarint(bytes, offset + 1);
    if (length === undefined) return undefined;
    const end = length.next + length.value;
    if (end > bytes.length) return undefined;
    let value: string;
    try {
      value = utf8Decoder.decode(bytes.subarray(length.next, end));
    } catch (err: unknown) {
      if (err instanceof TypeError) return undefined; // invalid UTF-8
      throw err;
    }
    fields.set(tag, value);
    offset = end;
  }

  const userId = fields.get(USER_ID_TAG);
  const connectorId = fields.get(CONNECTOR_ID_TAG);
  // Both are non-empty for every identity a connector reports; an absent field means a foreign value.
  if (userId === undefined || connectorId === undefined || userId === '' || connectorId === '') return undefined;
  return { userId, connectorId };
}
