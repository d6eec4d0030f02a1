import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const config = (storageConfig: string): string => `issuer: http://127.0.0.1:5556/dex
storage:
  type: kubernetes
  config:
${storageConfig}
web:
  http: 127.0.0.1:5556
`;

const problems = (yaml: string): readonly string[] => {
  try {
    loadConfig(yaml, 'config.yaml', { env: {}, connectorSchemas: {} });
  } catch (err: unknown) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return assert.fail('expected a ConfigError');
};

describe('storage type kubernetes', () => {
  it("takes Dex's keys: inCluster, with crdHandling defaulting to ensure", () => {
    const loaded = loadConfig(config('    inCluster: true'), 'config.yaml', { env: {}, connectorSchemas: {} });
    assert.deepEqual(loaded.storage, { type: 'kubernetes', config: { inCluster: true, crdHandling: 'ensure' } });
  });

  it('takes kubeConfigFile and crdHandling: check', () => {
    const loaded = loadConfig(config('    kubeConfigFile: /etc/kube/config\n    crdHandling: check'), 'config.yaml', {
      env: {},
      connectorSchemas: {},
    });
    assert.deepEqual(loaded.storage, {
      type: 'kubernetes',
      config: { inCluster: false, kubeConfigFile: '/etc/kube/config', crdHandling: 'check' },
    });
  });

  it("refuses both or neither of inCluster and kubeConfigFile with Dex's messages", () => {
    assert.deepEqual(problems(config('    inCluster: true\n    kubeConfigFile: /k')), [
      "config.yaml:6:5 storage.config.kubeConfigFile: cannot specify both 'inCluster' and 'kubeConfigFile'",
    ]);
    assert.deepEqual(problems(config('    crdHandling: ensure')), [
      "config.yaml:4:3 storage.config: must specify either 'inCluster' or 'kubeConfigFile'",
    ]);
  });

  it('refuses an unknown crdHandling and unknown keys', () => {
    const found = problems(config('    inCluster: true\n    crdHandling: create\n    namespace: dex'));
    assert.equal(found.length, 2, found.join('\n'));
    assert.match(found[0] ?? '', /storage\.config\.crdHandling/);
    assert.match(found[1] ?? '', /storage\.config.*namespace/);
  });
});
