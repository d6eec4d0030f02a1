import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { configTextWithOverrides, parseServeArguments } from '../../src/listen-flags.js';

const dir = mkdtempSync(join(tmpdir(), 'idport-flags-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("serve's listen flags (Dex's --web-http-addr, --web-https-addr, --telemetry-addr)", () => {
  it('reads flags with a separate or an inline value, and the config path', () => {
    assert.deepEqual(
      parseServeArguments(['--web-http-addr', '0.0.0.0:5556', '--telemetry-addr=0.0.0.0:5558', 'c.yaml']),
      {
        configPath: 'c.yaml',
        overrides: [
          { path: ['web', 'http'], value: '0.0.0.0:5556' },
          { path: ['telemetry', 'http'], value: '0.0.0.0:5558' },
        ],
      },
    );
  });

  it('refuses an unknown flag, a flag without a value, a second path, and --grpc-addr with a reason', () => {
    assert.throws(() => parseServeArguments(['--web-addr', 'x', 'c.yaml']), /unknown flag --web-addr/);
    assert.throws(() => parseServeArguments(['c.yaml', '--web-http-addr']), /needs an address/);
    assert.throws(() => parseServeArguments(['a.yaml', 'b.yaml']), /unexpected argument "b.yaml"/);
    assert.throws(() => parseServeArguments(['--grpc-addr', '0.0.0.0:5557', 'c.yaml']), /gRPC API is not supported/);
  });

  it('sets the addresses in a config without those sections, and replaces them in one with, keeping the rest', async () => {
    const bare = join(dir, 'bare.yaml');
    writeFileSync(bare, 'issuer: https://id.example.com\nstorage:\n  type: memory\n');
    const flags = parseServeArguments(['--web-http-addr', '0.0.0.0:5556', '--telemetry-addr', '0.0.0.0:5558', bare]);
    const config = loadConfig(await configTextWithOverrides(flags, bare), bare, { env: {}, connectorSchemas: {} });
    assert.equal(config.web.http, '0.0.0.0:5556');
    assert.equal(config.telemetry.http, '0.0.0.0:5558');

    const full = join(dir, 'full.yaml');
    writeFileSync(
      full,
      'issuer: https://id.example.com\nstorage:\n  type: memory\nweb:\n  http: 127.0.0.1:1\n  allowedOrigins: ["https://a.example.com"]\n',
    );
    const replaced = loadConfig(await configTextWithOverrides(flags, full), full, { env: {}, connectorSchemas: {} });
    assert.equal(replaced.web.http, '0.0.0.0:5556');
    assert.deepEqual(replaced.web.allowedOrigins, ['https://a.example.com']);
  });
});
