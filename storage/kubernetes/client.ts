/**
 * The Kubernetes API connection: kubeconfig or in-cluster service account through @kubernetes/client-node
 * (which does the TLS material, bearer tokens, exec plugins and token-file re-reading), and plain JSON
 * requests over node:https with the options it applies.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isIPv6 } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { StorageUnavailableError } from '../storage.js';

/** Dex's `storage.config` for `type: kubernetes`. */
export interface KubernetesOptions {
  readonly inCluster?: boolean | undefined;
  readonly kubeConfigFile?: string | undefined;
  /** `ensure` (default) creates missing CRDs at start; `check` refuses to start without them. */
  readonly crdHandling?: 'ensure' | 'check' | undefined;
  /** Environment for in-cluster discovery (KUBERNETES_SERVICE_HOST/PORT, KUBERNETES_POD_NAMESPACE); process.env if absent. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Directory of the mounted service account (token, ca.crt, namespace); Kubernetes' path if absent. */
  readonly serviceAccountDir?: string | undefined;
}

/** A setting that cannot work; the message names it. */
export class KubernetesConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubernetesConfigError';
  }
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Dex's client timeout: a hung API server fails the request instead of the login. */
const REQUEST_TIMEOUT_MS = 15_000;
const NAMESPACE_CLAIM = 'kubernetes.io/serviceaccount/namespace';

/** A response: status code and parsed JSON body (undefined when the body was not JSON). */
export interface KubeResponse {
  readonly status: number;
  readonly body: unknown;
}

/** The namespace claim of a legacy (non-projected) service-account token, or undefined. */
const namespaceFromToken = (token: string): string | undefined => {
  const payload = token.trim().split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    if (typeof claims !== 'object' || claims === null) return undefined;
    const value: unknown = (claims as Record<string, unknown>)[NAMESPACE_CLAIM];
    return typeof value === 'string' && value !== '' ? value : undefined;
  } catch {
    return undefined;
  }
};

const readText = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** Dex's order (client.go): KUBERNETES_POD_NAMESPACE, the token's legacy namespace claim, the namespace file. */
const inClusterNamespace = (env: Readonly<Record<string, string | undefined>>, dir: string, token: string): string => {
  const fromEnv = env['KUBERNETES_POD_NAMESPACE'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const fromToken = namespaceFromToken(token);
  if (fromToken !== undefined) return fromToken;
  const fromFile = readText(`${dir}/namespace`)?.trim();
  if (fromFile !== undefined && fromFile !== '') return fromFile;
  throw new KubernetesConfigError(
    `storage.config.inCluster: no namespace: KUBERNETES_POD_NAMESPACE is unset, the service account token has no namespace claim and ${dir}/namespace cannot be read`,
  );
};

const inClusterConfig = (options: KubernetesOptions): { kubeConfig: KubeConfig; namespace: string } => {
  const env = options.env ?? process.env;
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (host === undefined || host === '' || port === undefined || port === '')
    throw new KubernetesConfigError(
      'storage.config.inCluster: unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined',
    );
  const token = readText(`${dir}/token`);
  if (token === undefined) throw new KubernetesConfigError(`storage.config.inCluster: cannot read ${dir}/token`);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: 'in-cluster',
        server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
        caFile: `${dir}/ca.crt`,
        skipTLSVerify: false,
      },
    ],
    // The library re-reads a token file every minute: projected service-account tokens rotate.
    users: [{ name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile: `${dir}/token` } } }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster' }],
    currentContext: 'in-cluster',
  });
  return { kubeConfig, namespace: inClusterNamespace(env, dir, token) };
};

const fileConfig = (file: string): { kubeConfig: KubeConfig; namespace: string } => {
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromFile(file);
  } catch (err: unknown) {
    throw new KubernetesConfigError(`storage.config.kubeConfigFile: cannot read ${file}`, { cause: err });
  }
  if (kubeConfig.getCurrentCluster() === null)
    throw new KubernetesConfigError(`storage.config.kubeConfigFile: ${file} has no current context with a cluster`);
  const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  return { kubeConfig, namespace: context?.namespace ?? 'default' };
};

/** Loads the connection the way Dex does: exactly one of `inCluster` and `kubeConfigFile`. */
export const loadConnection = (options: KubernetesOptions): KubeClient => {
  const inCluster = options.inCluster === true;
  const file = options.kubeConfigFile ?? '';
  if (inCluster && file !== '')
    throw new KubernetesConfigError("storage.config: cannot specify both 'inCluster' and 'kubeConfigFile'");
  if (!inCluster && file === '')
    throw new KubernetesConfigError("storage.config: must specify either 'inCluster' or 'kubeConfigFile'");
  const { kubeConfig, namespace } = inCluster ? inClusterConfig(options) : fileConfig(file);
  return new KubeClient(kubeConfig, namespace);
};

/** JSON requests against one API server as one user. */
export class KubeClient {
  private readonly server: URL;
  private agent: http.Agent | undefined;

  constructor(
    private readonly kubeConfig: KubeConfig,
    readonly namespace: string,
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null) throw new KubernetesConfigError('storage.config: the kubeconfig names no cluster');
    this.server = new URL(cluster.server);
  }

  /** Where requests go, for messages. */
  get serverUrl(): string {
    return this.server.href;
  }

  /**
   * Sends one request. The library applies TLS material and credentials to fresh options each time (a token
   * file may have rotated); the agent it would make per call is replaced by one kept-alive agent with the same
   * TLS settings, unless a proxy is configured, where its proxy agent is used as is.
   */
  async request(method: string, path: string, body?: unknown): Promise<KubeResponse> {
    const options: https.RequestOptions = { headers: {} };
    await this.kubeConfig.applyToHTTPSOptions(options);
    const proxied = this.kubeConfig.getCurrentCluster()?.proxyUrl !== undefined;
    const secure = this.server.protocol === 'https:';
    this.agent ??= secure
      ? new https.Agent({
          keepAlive: true,
          ca: options.ca,
          cert: options.cert,
          key: options.key,
          ...(options.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.rejectUnauthorized }),
          ...(options.servername === undefined ? {} : { servername: options.servername }),
        })
      : new http.Agent({ keepAlive: true });
    const url = new URL(this.server.pathname.replace(/\/$/, '') + path, this.server);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const headers: Record<string, string> = {
      ...(options.headers as Record<string, string>),
      Accept: 'application/json',
      ...(payload === undefined
        ? {}
        : { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) }),
    };
    const send = secure ? https.request : http.request;
    return new Promise<KubeResponse>((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          headers,
          agent: proxied ? options.agent : this.agent,
          ...(options.auth === undefined ? {} : { auth: options.auth }),
          timeout: REQUEST_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text === '' ? undefined : JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', (err) =>
        reject(new StorageUnavailableError(`kubernetes: ${method} ${url.pathname} failed`, { cause: err })),
      );
      req.end(payload);
    });
  }

  close(): void {
    this.agent?.destroy();
  }
}
