import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CodecError, decodeJson, encodeJson, fromJsonValue, toJsonValue } from '../../storage/codec.js';

describe('storage codec', () => {
  it('writes Dates and bytes as tagged objects at any depth', () => {
    const value = { at: new Date(1_767_322_245_678), deep: [{ bytes: new Uint8Array([0, 1, 255]) }] };
    assert.equal(encodeJson(value), '{"at":{"$date":1767322245678},"deep":[{"bytes":{"$bytes":"AAH/"}}]}');
  });

  it('reads back Dates to the millisecond and bytes as a plain Uint8Array', () => {
    const decoded = decodeJson('{"at":{"$date":1767322245678},"deep":[{"bytes":{"$bytes":"AAH/"}}]}');
    assert.deepEqual(decoded, { at: new Date(1_767_322_245_678), deep: [{ bytes: new Uint8Array([0, 1, 255]) }] });
  });

  it('stores the bytes of a view into a larger buffer, not the whole buffer', () => {
    const view = new Uint8Array(Buffer.from('xxabcxx')).subarray(2, 5);
    assert.deepEqual(decodeJson(encodeJson({ view })), { view: new Uint8Array([97, 98, 99]) });
  });

  it('escapes data keys that start with $ so they never read back as tags', () => {
    const value = { a: { $date: 5 }, b: { $bytes: 'AAH/' }, c: { $$x: 1, plain: 2 } };
    assert.equal(encodeJson(value), '{"a":{"$$date":5},"b":{"$$bytes":"AAH/"},"c":{"$$$x":1,"plain":2}}');
    assert.deepEqual(decodeJson(encodeJson(value)), value);
  });

  it('keeps a __proto__ key as data instead of changing the prototype', () => {
    const decoded = decodeJson('{"__proto__":{"polluted":true}}');
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
    assert.deepEqual(Object.keys(decoded as object), ['__proto__']);
    assert.equal(encodeJson(decoded), '{"__proto__":{"polluted":true}}');
  });

  it('drops object fields that are undefined, as an absent optional field', () => {
    assert.equal(encodeJson({ a: 1, b: undefined }), '{"a":1}');
  });

  it('refuses values JSON would silently change, naming where they are but not what they hold', () => {
    const refuse = (value: unknown, message: string): void =>
      assert.throws(() => toJsonValue(value), { name: 'CodecError', message });
    refuse({ n: Number.NaN }, 'cannot store a non-finite number at $.n');
    refuse({ list: [1, undefined] }, 'cannot store undefined at $.list[1]');
    refuse({ at: new Date(Number.NaN) }, 'cannot store an invalid Date at $.at');
    refuse({ m: new Map() }, 'cannot store a Map at $.m');
    refuse({ u16: new Uint16Array(2) }, 'cannot store a Uint16Array at $.u16');
    refuse({ 'odd key': { big: 1n } }, 'cannot store a value of type bigint at $["odd key"].big');
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    refuse(cyclic, 'cannot store a cyclic value at $.self');
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    assert.equal(encodeJson([shared, shared]), '[{"x":1},{"x":1}]');
  });

  it('refuses documents it did not write', () => {
    assert.throws(() => fromJsonValue({ $date: 'yesterday' }), new CodecError('malformed $date at $'));
    assert.throws(() => fromJsonValue({ a: { $bytes: 1 } }), new CodecError('malformed $bytes at $.a'));
    assert.throws(() => fromJsonValue({ $unknown: 1, b: 2 }), new CodecError('unknown tag "$unknown" at $'));
  });
});
