/**
 * Discovery and the JWKS as caches see them: ETags, 304 Not Modified on a matching If-None-Match, and Dex's
 * Cache-Control (none on discovery, `max-age=600, must-revalidate` on the JWKS). A rotation changes the JWKS's tag.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/deps.js';
import { matchesEtag } from '../../src/http/discovery-routes.js';
import type { Signer } from '../../src/signer/signer.js';
import { confidentialClient, startIdport, type TestIdport } from '../support/idport.js';
import { testFetch } from '../support/in-process.js';

const REDIRECT = 'http://127.0.0.1:5555/callback';
const HOUR_MS = 3600_000;

describe('discovery and JWKS caching', () => {
  let idport: TestIdport;
  let clock: ManualClock;
  const discoveryUrl = (): string => `${idport.issuer}/.well-known/openid-configuration`;
  const keysUrl = (): string => `${idport.issuer}/keys`;
  const get = (url: string, ifNoneMatch?: string): Promise<Response> =>
    testFetch(url, ifNoneMatch === undefined ? {} : { headers: { 'if-none-match': ifNoneMatch } });

  before(async () => {
    clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
    idport = await startIdport({ inProcess: true, clients: [confidentialClient('web', [REDIRECT])], clock });
  });
  after(async () => idport.close());

  it('serves discovery with a strong ETag and no Cache-Control, as Dex sends none', async () => {
    const response = await get(discoveryUrl());
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(response.headers.get('etag') ?? '', /^"[\w-]{43}"$/);
    assert.equal(response.headers.get('cache-control'), null);
    assert.equal(((await response.json()) as { issuer: string }).issuer, idport.issuer);
    // The same bytes every time, so the same tag.
    assert.equal((await get(discoveryUrl())).headers.get('etag'), response.headers.get('etag'));
  });

  it('answers 304 with no body when If-None-Match names the discovery ETag, weakly or in a list', async () => {
    const etag = (await get(discoveryUrl())).headers.get('etag') ?? '';
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const response = await get(discoveryUrl(), header);
      assert.equal(response.status, 304, header);
      assert.equal(response.headers.get('etag'), etag);
      assert.equal(await response.text(), '');
    }
  });

  it('answers 200 with the document when If-None-Match names another tag', async () => {
    const response = await get(discoveryUrl(), '"not-the-tag"');
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { issuer: string }).issuer, idport.issuer);
  });

  it("serves the JWKS with Dex's Cache-Control and an ETag, and 304 to a client that has it", async () => {
    const response = await get(keysUrl());
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'max-age=600, must-revalidate');
    const etag = response.headers.get('etag') ?? '';
    assert.match(etag, /^"[\w-]{43}"$/);
    const { keys } = (await response.json()) as { keys: { kid: string }[] };
    assert.equal(keys.length, 1);
    const cached = await get(keysUrl(), etag);
    assert.equal(cached.status, 304);
    assert.equal(cached.headers.get('cache-control'), 'max-age=600, must-revalidate');
    assert.equal(cached.headers.get('etag'), etag);
    assert.equal(await cached.text(), '');
  });

  it('changes the JWKS ETag when the keys rotate, so a client holding the old set gets the new one', async () => {
    const before = await get(keysUrl());
    const oldTag = before.headers.get('etag') ?? '';
    const [oldKey] = ((await before.json()) as { keys: { kid: string }[] }).keys;
    clock.advance(7 * HOUR_MS);
    // startIdport's provider holds the full signer; rotate as its timer would.
    assert.equal(await (idport.provider.signer as Signer).rotateIfDue(), true);
    const after = await get(keysUrl(), oldTag);
    assert.equal(after.status, 200);
    const newTag = after.headers.get('etag') ?? '';
    assert.notEqual(newTag, oldTag);
    const kids = ((await after.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    // The new key first, the retired one still published for the tokens it signed.
    assert.equal(kids.length, 2);
    assert.equal(kids[1], oldKey?.kid);
    assert.equal((await get(keysUrl(), newTag)).status, 304);
    // Once the tokens the retired key signed have all expired (idTokens defaults to 24 h), it is no longer published,
    // with no rotation in between: the served set, and its tag, follow the clock.
    clock.advance(25 * HOUR_MS);
    const later = await get(keysUrl(), newTag);
    assert.equal(later.status, 200);
    assert.notEqual(later.headers.get('etag'), newTag);
    assert.deepEqual(
      ((await later.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid),
      [kids[0]],
    );
  });
});

describe('If-None-Match matching', () => {
  it('matches the tag itself, its weak form, a list containing it, and *', () => {
    assert.equal(matchesEtag('"a"', '"a"'), true);
    assert.equal(matchesEtag('W/"a"', '"a"'), true);
    assert.equal(matchesEtag(' "b" ,  "a" ', '"a"'), true);
    assert.equal(matchesEtag('*', '"a"'), true);
  });

  it('does not match an absent header, another tag, an unquoted tag or a prefix', () => {
    assert.equal(matchesEtag(undefined, '"a"'), false);
    assert.equal(matchesEtag('"b"', '"a"'), false);
    assert.equal(matchesEtag('a', '"a"'), false);
    assert.equal(matchesEtag('"a', '"a"'), false);
    assert.equal(matchesEtag('', '"a"'), false);
  });
});
