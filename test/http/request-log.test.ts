/** What reaches the request log: secrets in query strings are redacted, the path and harmless parameters stay. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import { client, testProvider } from '../oauth/provider.js';

describe('request log', () => {
  it('keeps codes, ID token hints and login hints out of the request log lines', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString('utf8'));
        callback();
      },
    });
    const provider = await testProvider([client('web')]);
    const app = await buildApp({
      provider: { ...provider, log: pino({ level: 'info' }, sink) },
      branding: { issuerName: 'idport test', logoUrl: '', theme: 'light' },
    });
    try {
      await app.inject({ url: '/dex/callback?code=UPSTREAM-CODE-SECRET&state=abc' });
      await app.inject({ url: '/dex/logout?id_token_hint=eyJ.HINT-SECRET.sig&state=bye' });
      await app.inject({
        url: '/dex/auth?client_id=web&response_type=code&scope=openid&login_hint=jane%40example.com',
      });
      const log = lines.join('');
      assert.match(log, /"msg":"GET \/dex\/callback\?code=%5BRedacted%5D&state=abc \d+"/);
      assert.match(log, /\/dex\/callback\?code=%5BRedacted%5D&state=abc/, 'the path and harmless parameters stay');
      for (const secret of ['UPSTREAM-CODE-SECRET', 'HINT-SECRET', 'jane'])
        assert.ok(!log.includes(secret), `${secret} in ${log}`);
    } finally {
      await app.close();
    }
  });
});
