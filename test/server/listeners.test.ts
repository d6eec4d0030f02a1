/** web.http and web.https together: both listeners serve the same app, plain and TLS, as Dex does. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Browser } from '../support/browser.js';
import { configYaml, EMAIL, httpsGet, passwordForm, selfSigned, start, type Started } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'idport-listeners-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A small per-IP budget and no account lockout, so the test measures the client IP alone. */
const FAILURES_PER_IP = 3;

describe('web.http and web.https', () => {
  let idport: Started;
  let ca: Buffer;
  before(async () => {
    const { cert, key } = selfSigned(dir);
    ca = readFileSync(cert);
    idport = await start(
      configYaml(
        `web:\n  http: 127.0.0.1:0\n  https: 127.0.0.1:0\n  tlsCert: ${cert}\n  tlsKey: ${key}\n  tlsMinVersion: "1.2"\n` +
          `bruteForce:\n  maxFailures: 0\n  maxFailuresPerIP: ${FAILURES_PER_IP}\n`,
      ),
    );
  });
  after(() => idport.close());

  it('listens on both addresses', () => {
    assert.match(idport.addresses.http ?? '', /^127\.0\.0\.1:\d+$/);
    assert.match(idport.addresses.https ?? '', /^127\.0\.0\.1:\d+$/);
    assert.notEqual(idport.addresses.http, idport.addresses.https);
  });

  it('serves the same routes in plain HTTP on one and with the configured certificate on the other', async () => {
    const plain = await fetch(`http://${idport.addresses.http ?? ''}/dex/.well-known/openid-configuration`);
    assert.equal(plain.status, 200);
    const secure = await httpsGet(`https://${idport.addresses.https ?? ''}/dex/.well-known/openid-configuration`, ca);
    assert.equal(secure.status, 200);
    assert.equal(secure.subject, 'idport test');
    assert.deepEqual(JSON.parse(secure.body), await plain.json());
  });

  it('speaks only TLS on the https address and only plain HTTP on the http one', async () => {
    await assert.rejects(fetch(`http://${idport.addresses.https ?? ''}/dex/healthz/live`));
    await assert.rejects(httpsGet(`https://${idport.addresses.http ?? ''}/dex/healthz/live`, ca), { code: 'EPROTO' });
  });

  it('shares one password budget per client IP across both listeners', async () => {
    // One app behind both sockets: a guesser gets no second budget by switching listener.
    const browser = new Browser();
    const form = await passwordForm(browser, `http://${idport.addresses.http ?? ''}`);
    for (let i = 0; i < FAILURES_PER_IP; i++)
      assert.equal(
        (await browser.request(form.action, { form: { ...form.fields, login: EMAIL, password: 'wrong' } })).status,
        401,
      );
    const viaTls = await new Promise<number>((resolve, reject) => {
      const body = new URLSearchParams({ ...form.fields, login: EMAIL, password: 'wrong' }).toString();
      const url = new URL(form.action);
      const req = request(
        `https://${idport.addresses.https ?? ''}${url.pathname}${url.search}`,
        {
          method: 'POST',
          ca,
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            cookie: `idport_browser=${browser.cookie('idport_browser') ?? ''}`,
          },
        },
        (res) => {
          res.resume().on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject).end(body);
    });
    assert.equal(viaTls, 429);
  });
});

describe('closing with both listeners', () => {
  it('stops both', async () => {
    const { cert, key } = selfSigned(mkdtempSync(join(dir, 'close-')));
    const idport = await start(
      configYaml(`web:\n  http: 127.0.0.1:0\n  https: 127.0.0.1:0\n  tlsCert: ${cert}\n  tlsKey: ${key}\n`),
    );
    const ca = readFileSync(cert);
    assert.equal((await fetch(`http://${idport.addresses.http ?? ''}/dex/healthz/live`)).status, 200);
    assert.equal((await httpsGet(`https://${idport.addresses.https ?? ''}/dex/healthz/live`, ca)).status, 200);
    await idport.close();
    await assert.rejects(fetch(`http://${idport.addresses.http ?? ''}/dex/healthz/live`), { message: 'fetch failed' });
    await assert.rejects(httpsGet(`https://${idport.addresses.https ?? ''}/dex/healthz/live`, ca), {
      code: 'ECONNREFUSED',
    });
  });
});
