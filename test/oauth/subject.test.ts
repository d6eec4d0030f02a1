import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { decodeSubject, encodeSubject } from '../../src/oauth/primitives/subject.js';

describe('subject encoding', () => {
  it('matches the example in Dex documentation', () => {
    assert.equal(encodeSubject('2342749', 'github'), 'CgcyMzQyNzQ5EgZnaXRodWI');
    assert.deepEqual(decodeSubject('CgcyMzQyNzQ5EgZnaXRodWI'), { userId: '2342749', connectorId: 'github' });
  });

  it('writes a length of 128 bytes or more as a multi-byte varint', () => {
    const userId = 'u'.repeat(200);
    const bytes = Buffer.from(encodeSubject(userId, 'local'), 'base64url');
    // 200 = 0b1_1001000 → low 7 bits with the continuation bit (0xc8), then 0x01.
    assert.deepEqual([...bytes.subarray(0, 3)], [0x0a, 0xc8, 0x01]);
    assert.deepEqual([...bytes.subarray(203)], [0x12, 5, ...Buffer.from('local')]);
    assert.deepEqual(decodeSubject(encodeSubject(userId, 'local')), { userId, connectorId: 'local' });
  });

  it('round-trips non-ASCII characters as UTF-8', () => {
    const userId = 'Jürgen-直子-🦊';
    const sub = encodeSubject(userId, 'ldap-ü');
    const bytes = Buffer.from(sub, 'base64url');
    assert.equal(bytes[1], Buffer.byteLength(userId)); // the length counts bytes, not UTF-16 units
    assert.deepEqual(decodeSubject(sub), { userId, connectorId: 'ldap-ü' });
  });

  it('produces unpadded base64url', () => {
    const sub = encodeSubject('a?>~~', 'b');
    assert.doesNotMatch(sub, /[=+/]/);
  });

  it('reads the fields in either order', () => {
    const reversed = Buffer.from([0x12, 1, 0x62, 0x0a, 1, 0x61]).toString('base64url');
    assert.deepEqual(decodeSubject(reversed), { userId: 'a', connectorId: 'b' });
  });

  const malformed: [string, string][] = [
    ['an empty string', ''],
    ['padding', 'CgcyMzQyNzQ5EgZnaXRodWI='],
    ['standard base64 characters', 'Cg+yMzQyNzQ5EgZnaXRodWI'],
    ['whitespace', 'CgcyMzQyNzQ5 EgZnaXRodWI'],
    ['non-canonical trailing bits', 'CgcyMzQyNzQ5EgZnaXRodWJ'],
    ['a truncated message', 'CgcyMzQyNzQ5EgZnaXRo'],
    ['only the user id', Buffer.from([0x0a, 1, 0x61]).toString('base64url')],
    ['only the connector id', Buffer.from([0x12, 1, 0x62]).toString('base64url')],
    ['an empty user id written out', Buffer.from([0x0a, 0, 0x12, 1, 0x62]).toString('base64url')],
    ['an unknown field', Buffer.from([0x0a, 1, 0x61, 0x12, 1, 0x62, 0x1a, 1, 0x63]).toString('base64url')],
    ['a varint field', Buffer.from([0x08, 1, 0x12, 1, 0x62]).toString('base64url')],
    ['a repeated field', Buffer.from([0x0a, 1, 0x61, 0x0a, 1, 0x61, 0x12, 1, 0x62]).toString('base64url')],
    ['a length past the end', Buffer.from([0x0a, 0x7f, 0x61, 0x12, 1, 0x62]).toString('base64url')],
    ['an unterminated varint', Buffer.from([0x0a, 0xff, 0xff]).toString('base64url')],
    ['an overlong varint', Buffer.from([0x0a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00]).toString('base64url')],
    ['invalid UTF-8', Buffer.from([0x0a, 1, 0xff, 0x12, 1, 0x62]).toString('base64url')],
    ['a JWT-like value', 'eyJhbGciOiJSUzI1NiJ9'],
  ];
  for (const [what, sub] of malformed) {
    it(`rejects ${what}`, () => {
      assert.equal(decodeSubject(sub), undefined);
    });
  }
});
