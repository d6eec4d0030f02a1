import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyOverrides, parseServeArgs } from '../../src/config/flags.js';
import { loadConfig } from '../../src/config/load.js';

describe("serve's command line, as Dex's (pflag)", () => {
  it('reads the four address flags in both spellings, before or after the file', () => {
    assert.deepEqual(
      parseServeArgs([
        '--web-http-addr',
        '0.0.0.0:5556',
        '/etc/dex/config.yaml',
        '--web-https-addr=0.0.0.0:5554',
        '--telemetry-addr',
        ':5558',
        '--grpc-addr=0.0.0.0:5557',
      ]),
      {
        configPath: '/etc/dex/config.yaml',
        overrides: {
          webHttpAddr: '0.0.0.0:5556',
          webHttpsAddr: '0.0.0.0:5554',
          telemetryAddr: ':5558',
          grpcAddr: '0.0.0.0:5557',
        },
      },
    );
    assert.deepEqual(parseServeArgs(['--', '--odd-name.yaml']), { configPath: '--odd-name.yaml', overrides: {} });
  });

  it('refuses what Dex refuses: unknown flags, a flag without value, no file or two files, a bad address', () => {
    assert.equal(parseServeArgs(['--web-addr', ':1', 'c.yaml']), 'unknown flag: --web-addr');
    assert.equal(parseServeArgs(['c.yaml', '--grpc-addr']), 'flag needs an argument: --grpc-addr');
    assert.equal(parseServeArgs([]), 'serve needs a config file: serve [flags] CONFIG');
    assert.equal(parseServeArgs(['a.yaml', 'b.yaml']), 'serve takes one config file, got 2 arguments');
    assert.equal(
      parseServeArgs(['--web-http-addr', 'localhost', 'c.yaml']),
      '--web-http-addr: expected an address like "0.0.0.0:5556", got "localhost"',
    );
  });

  it("replaces the config's values before validation, so a config without `web` starts (Dex's Helm chart)", () => {
    const yaml = `issuer: http://127.0.0.1:5556/dex
storage: {type: memory}
telemetry: {http: 127.0.0.1:5558}
`;
    const config = loadConfig(yaml, 'c.yaml', {
      env: {},
      connectorSchemas: {},
      overrides: { webHttpAddr: '0.0.0.0:5556', telemetryAddr: '0.0.0.0:5559' },
    });
    assert.equal(config.web.http, '0.0.0.0:5556');
    assert.equal(config.telemetry.http, '0.0.0.0:5559');
    // An empty flag leaves the config's value, as `if options.webHTTPAddr != ""` does.
    assert.deepEqual(parseServeArgs(['--web-http-addr=', 'c.yaml']), { configPath: 'c.yaml', overrides: {} });
  });

  it('sets grpc.addr from --grpc-addr, keeping the rest of the grpc block', () => {
    assert.deepEqual(applyOverrides({ grpc: { addr: ':1', reflection: true } }, { grpcAddr: '0.0.0.0:5557' }), {
      grpc: { addr: '0.0.0.0:5557', reflection: true },
    });
  });
});
