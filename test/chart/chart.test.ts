/**
 * charts/idport with a real helm (test/support/helm.ts): `helm lint` and `helm template` with values files
 * equal to those Dex's chart is tested with (its ci/*.yaml) plus Kubernetes storage; the rendered objects are
 * the ones Dex's chart renders for those values, and the rendered command with the rendered config starts
 * idport whose probes answer on the telemetry port.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { call } from '../grpc/support.js';
import { helmBinary } from '../support/helm.js';

const run = promisify(execFile);
const CHART = 'charts/idport';
const valuesFiles = readdirSync(join(CHART, 'ci')).sort();

type K8sObject = {
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
};

describe('charts/idport', () => {
  let helm: string;
  before(async () => {
    helm = await helmBinary();
  });

  const render = async (...args: string[]): Promise<K8sObject[]> => {
    const { stdout } = await run(helm, ['template', 'dex', CHART, '--namespace', 'auth', ...args]);
    return parseAllDocuments(stdout)
      .map((d) => d.toJS() as K8sObject | null)
      .filter((o): o is K8sObject => o !== null);
  };
  const one = (objects: K8sObject[], kind: string): K8sObject => {
    const found = objects.filter((o) => o.kind === kind);
    assert.equal(found.length, 1, `one ${kind}`);
    return found[0] as K8sObject;
  };
  const podSpec = (objects: K8sObject[]): Record<string, unknown> =>
    (one(objects, 'Deployment')['spec'] as { template: { spec: Record<string, unknown> } }).template.spec;

  it('passes helm lint, alone and with every values file', async () => {
    await run(helm, ['lint', '--strict', CHART]);
    for (const file of valuesFiles) await run(helm, ['lint', '--strict', CHART, '-f', join(CHART, 'ci', file)]);
  });

  it("renders the objects Dex's chart renders for its test values", async () => {
    const objects = await render('-f', join(CHART, 'ci', 'test-values.yaml'));
    assert.deepEqual(objects.map((o) => o.kind).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'Deployment',
      'Role',
      'RoleBinding',
      'Secret',
      'Service',
      'ServiceAccount',
    ]);
    const role = one(objects, 'Role')['rules'];
    assert.deepEqual(role, [{ apiGroups: ['dex.coreos.com', 'idport.dev'], resources: ['*'], verbs: ['*'] }]);
    assert.deepEqual(one(objects, 'ClusterRole')['rules'], [
      { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['list', 'create'] },
    ]);
    const ports = (one(objects, 'Service')['spec'] as { ports: { name: string; port: number }[] }).ports;
    assert.deepEqual(
      ports.map((p) => [p.name, p.port]),
      [
        ['http', 5556],
        ['telemetry', 5558],
      ],
    );
    const [container] = podSpec(objects)['containers'] as Record<string, unknown>[];
    assert.deepEqual(container?.['args'], [
      'serve',
      '--web-http-addr',
      '0.0.0.0:5556',
      '--telemetry-addr',
      '0.0.0.0:5558',
      '/etc/dex/config.yaml',
    ]);
    assert.deepEqual(container?.['livenessProbe'], { httpGet: { path: '/healthz/live', port: 'telemetry' } });
    assert.deepEqual(container?.['readinessProbe'], { httpGet: { path: '/healthz/ready', port: 'telemetry' } });
  });

  it("renders, for each of Dex's chart's ci values files, the kinds Dex's chart renders for it", async () => {
    // Measured against dexidp/helm-charts charts/dex 0.24.0 (helm hooks aside: this chart has no `helm test`).
    const base = [
      'ClusterRole',
      'ClusterRoleBinding',
      'Deployment',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ];
    const expected: Record<string, string[]> = {
      'config-secret-values.yaml': [...base, 'Secret'],
      'label-annotations-values.yaml': [...base, 'Secret'],
      'no-config-secret.yaml': base,
      'test-values.yaml': [...base, 'Secret'],
    };
    for (const [file, kinds] of Object.entries(expected)) {
      const objects = await render('-f', join(CHART, 'ci', file));
      assert.deepEqual(objects.map((o) => o.kind).sort(), kinds.sort(), file);
    }
    assert.deepEqual(
      Object.keys(expected).sort(),
      valuesFiles.filter((f) => f !== 'kubernetes-storage-values.yaml'),
    );
  });

  it('names the config Secret as configSecret.name says, or mounts an existing one', async () => {
    const named = await render('-f', join(CHART, 'ci', 'config-secret-values.yaml'));
    assert.equal(one(named, 'Secret').metadata.name, 'my-super-special-dex-secret');
    const volumes = (objects: K8sObject[]) => podSpec(objects)['volumes'] as { secret: { secretName: string } }[];
    assert.equal(volumes(named)[0]?.secret.secretName, 'my-super-special-dex-secret');
    const external = await render('-f', join(CHART, 'ci', 'no-config-secret.yaml'));
    assert.equal(external.filter((o) => o.kind === 'Secret').length, 0);
    assert.equal(volumes(external)[0]?.secret.secretName, 'default');
  });

  it('puts deploymentLabels, deploymentAnnotations, podLabels and podAnnotations where Dex does', async () => {
    const objects = await render('-f', join(CHART, 'ci', 'label-annotations-values.yaml'));
    const deployment = one(objects, 'Deployment');
    assert.equal(deployment.metadata.labels?.['hello'], 'world');
    assert.equal(deployment.metadata.annotations?.['reloader.stakater.com/auto'], 'true');
    const template = (deployment['spec'] as { template: { metadata: K8sObject['metadata'] } }).template.metadata;
    assert.equal(template.labels?.['hello'], 'world');
    assert.equal(template.annotations?.['vault.security.banzaicloud.io/vault-addr'], 'https://vault.vault:8200');
    assert.match(template.annotations?.['checksum/config'] ?? '', /^[0-9a-f]{64}$/);
  });

  it('renders a disruption budget, replicas, autoscaling, ingress and a network policy from Dex values', async () => {
    const objects = await render(
      '-f',
      join(CHART, 'ci', 'kubernetes-storage-values.yaml'),
      '--set',
      'ingress.enabled=true,networkPolicy.enabled=true,https.enabled=true',
    );
    assert.deepEqual((one(objects, 'PodDisruptionBudget')['spec'] as { minAvailable: number }).minAvailable, 1);
    assert.equal((one(objects, 'Deployment')['spec'] as { replicas: number }).replicas, 2);
    assert.ok(one(objects, 'Ingress'));
    assert.ok(one(objects, 'NetworkPolicy'));
    const scaled = await render('--set', 'autoscaling.enabled=true');
    assert.equal((one(scaled, 'Deployment')['spec'] as { replicas?: number }).replicas, undefined);
    assert.ok(one(scaled, 'HorizontalPodAutoscaler'));
  });

  it("renders Dex's gRPC flag, container port, service port and network-policy port with grpc.enabled", async () => {
    const objects = await render(
      '--set',
      'grpc.enabled=true,networkPolicy.enabled=true,service.type=NodePort,service.ports.grpc.nodePort=30557',
    );
    const [container] = podSpec(objects)['containers'] as Record<string, unknown>[];
    assert.deepEqual(container?.['args'], [
      'serve',
      '--web-http-addr',
      '0.0.0.0:5556',
      '--grpc-addr',
      '0.0.0.0:5557',
      '--telemetry-addr',
      '0.0.0.0:5558',
      '/etc/dex/config.yaml',
    ]);
    assert.deepEqual(container?.['ports'], [
      { name: 'http', containerPort: 5556, protocol: 'TCP' },
      { name: 'grpc', containerPort: 5557, protocol: 'TCP' },
      { name: 'telemetry', containerPort: 5558, protocol: 'TCP' },
    ]);
    const ports = (one(objects, 'Service')['spec'] as { ports: Record<string, unknown>[] }).ports;
    assert.deepEqual(
      ports.find((p) => p['name'] === 'grpc'),
      { name: 'grpc', port: 5557, nodePort: 30557, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'http' },
    );
    const policy = one(objects, 'NetworkPolicy')['spec'] as { ingress: { ports: { port: string }[] }[] };
    assert.deepEqual(
      policy.ingress[0]?.ports.map((p) => p.port),
      ['http', 'grpc', 'telemetry'],
    );
    // Without grpc.enabled, no gRPC anywhere.
    const plain = await render('--set', 'networkPolicy.enabled=true');
    assert.doesNotMatch(JSON.stringify(plain), /grpc|5557/);
  });
});

describe('charts/idport: the rendered command starts idport', () => {
  let dir: string;
  let child: ReturnType<typeof spawn> | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'idport-chart-'));
  });
  after(async () => {
    if (child?.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const freePort = async (): Promise<number> =>
    new Promise((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });

  it("serves the probes on the telemetry port and, with grpc.enabled, Dex's gRPC API on the grpc port", async () => {
    const helm = await helmBinary();
    const { stdout } = await run(helm, [
      'template',
      'dex',
      CHART,
      '-f',
      join(CHART, 'ci', 'test-values.yaml'),
      '--set',
      'grpc.enabled=true',
    ]);
    const objects = parseAllDocuments(stdout).map((d) => d.toJS() as K8sObject);
    const secret = objects.find((o) => o.kind === 'Secret') as K8sObject & { data: { 'config.yaml': string } };
    const configFile = join(dir, 'config.yaml');
    writeFileSync(configFile, Buffer.from(secret.data['config.yaml'], 'base64'));
    const deployment = objects.find((o) => o.kind === 'Deployment') as K8sObject;
    const container = (deployment['spec'] as { template: { spec: { containers: Record<string, unknown>[] } } }).template
      .spec.containers[0] as {
      args: string[];
      readinessProbe: { httpGet: { path: string } };
      livenessProbe: { httpGet: { path: string } };
    };
    const [web, telemetry, grpc] = [await freePort(), await freePort(), await freePort()];
    // The pod's addresses and mount, moved onto loopback and the temp dir.
    const args = container.args.map((a) =>
      a === '0.0.0.0:5556'
        ? `127.0.0.1:${web}`
        : a === '0.0.0.0:5558'
          ? `127.0.0.1:${telemetry}`
          : a === '0.0.0.0:5557'
            ? `127.0.0.1:${grpc}`
            : a === '/etc/dex/config.yaml'
              ? configFile
              : a,
    );
    assert.ok(args.includes(`127.0.0.1:${grpc}`), args.join(' '));
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const probe = async (path: string): Promise<number> => {
      for (let i = 0; i < 600; i++) {
        if (child?.exitCode !== null) assert.fail(`idport exited: ${stderr}`);
        try {
          return (await fetch(`http://127.0.0.1:${telemetry}${path}`)).status;
        } catch {
          await sleep(100);
        }
      }
      return assert.fail(`no answer on ${path}: ${stderr}`);
    };
    assert.equal(await probe(container.livenessProbe.httpGet.path), 200);
    assert.equal(await probe(container.readinessProbe.httpGet.path), 200);
    const discovery = await fetch(`http://127.0.0.1:${web}/.well-known/openid-configuration`);
    assert.equal(((await discovery.json()) as { issuer: string }).issuer, 'https://my-issuer.com');
    // The gRPC listener is up once the probes answer; an independent client (Python's grpcio) calls it.
    const version = await call({ target: `127.0.0.1:${grpc}` }, 'GetVersion');
    assert.equal(version['api'], 3);
  });
});
