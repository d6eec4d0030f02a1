import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { renderTemplate, TemplateError } from '../../src/config/template.js';

const render = (source: string, env: Record<string, string> = {}): string => renderTemplate(source, env);

const failsAt = (source: string, env: Record<string, string>, line: number, message: string | RegExp): void => {
  assert.throws(
    () => render(source, env),
    (err: unknown) =>
      err instanceof TemplateError &&
      err.line === line &&
      (typeof message === 'string' ? err.message === message : message.test(err.message)),
  );
};

describe("Dex's image templating (gomplate subset)", () => {
  it('reads getenv with and without a default, and .Env', () => {
    assert.equal(render('a: {{ getenv "A" }}', { A: 'x' }), 'a: x');
    assert.equal(render('a: {{ getenv "A" }}'), 'a: ');
    assert.equal(render('a: {{ getenv "A" "fallback" }}', { A: '' }), 'a: fallback');
    assert.equal(render('a: {{ .Env.A }}', { A: 'y' }), 'a: y');
    assert.equal(render('a: {{ getenv `A` | default "d" }}'), 'a: d');
  });

  it('takes if/else if/else/end, trimming with {{- and -}}, and drops comments', () => {
    const source = `{{- /* a comment */ -}}
web:
{{- if getenv "HTTPS" }}
  https: {{ .Env.HTTPS }}
{{- else if eq (getenv "MODE") "test" }}
  http: 127.0.0.1:1
{{- else }}
  http: {{ getenv "HTTP" "0.0.0.0:5556" }}
{{- end }}
`;
    assert.equal(render(source), 'web:\n  http: 0.0.0.0:5556\n');
    assert.equal(render(source, { HTTPS: ':5554' }), 'web:\n  https: :5554\n');
    assert.equal(render(source, { MODE: 'test' }), 'web:\n  http: 127.0.0.1:1\n');
  });

  it('fails with the message of required, and names a missing .Env variable, each at its line', () => {
    failsAt('a: 1\nb: {{ getenv "KEY" | required "$KEY is needed for https" }}', {}, 2, '$KEY is needed for https');
    failsAt('a: 1\n\nb: {{ .Env.DEX_SECRET }}', {}, 3, 'environment variable DEX_SECRET is not set (.Env.DEX_SECRET)');
    // A branch not taken is not evaluated, as in Go.
    assert.equal(render('{{ if .Env.ON }}{{ .Env.MISSING }}{{ end }}ok', { ON: '' }), 'ok');
  });

  it('refuses what it does not implement, and broken structure, instead of passing it through', () => {
    failsAt('a: {{ file.Read "/etc/passwd" }}', {}, 1, /"file\.Read" is not supported in config templates/);
    failsAt('{{ if getenv "A" }}\na: 1\n', {}, 1, '"if" without "end"');
    failsAt('a: 1\n{{ end }}', {}, 2, '"end" without "if"');
    failsAt('a: {{ getenv "A"', {}, 1, 'unclosed action: "{{" without "}}"');
  });

  it("renders a config written for Dex's image (the constructs of its config.docker.yaml), which the loader accepts", () => {
    const source = `{{- /* Environment-driven config, as for Dex's image. */ -}}
issuer: {{ getenv "DEX_ISSUER" "http://127.0.0.1:5556/dex" }}
storage:
  type: memory
web:
{{- if getenv "DEX_WEB_HTTPS" "" }}
  https: {{ .Env.DEX_WEB_HTTPS }}
  tlsKey: {{ getenv "DEX_WEB_TLS_KEY" | required "$DEX_WEB_TLS_KEY in case of web.https is enabled" }}
{{- end }}
  http: {{ getenv "DEX_WEB_HTTP" "0.0.0.0:5556" }}
oauth2:
  responseTypes: {{ getenv "DEX_OAUTH2_RESPONSE_TYPES" "[code]" }}
connectors:
{{- if getenv "DEX_CONNECTORS_ENABLE_MOCK" }}
- type: mockCallback
  id: mock
  name: Example
{{- end }}
`;
    const config = loadConfig(source, 'config.docker.yaml', {
      env: { DEX_ISSUER: 'https://dex.example.com/dex', DEX_CONNECTORS_ENABLE_MOCK: 'true' },
      connectorSchemas: { mockCallback: z.strictObject({}) },
    });
    assert.equal(config.issuer, 'https://dex.example.com/dex');
    assert.equal(config.web.http, '0.0.0.0:5556');
    assert.deepEqual(config.oauth2.responseTypes, ['code']);
    assert.deepEqual(
      config.connectors.map((c) => c.id),
      ['mock'],
    );
    assert.throws(
      () => loadConfig(source, 'config.docker.yaml', { env: { DEX_WEB_HTTPS: ':5554' }, connectorSchemas: {} }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.issues[0] === 'config.docker.yaml:8 template: $DEX_WEB_TLS_KEY in case of web.https is enabled',
    );
  });
});
