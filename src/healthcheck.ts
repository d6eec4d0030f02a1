/**
 * `idport healthcheck [CONFIG]`: the container HEALTHCHECK. It reads the listen addresses from the same config the
 * server runs (so a port other than 5556 works) and asks /healthz/live on the telemetry listener when there is one,
 * else on the web listener (the probes answer at the root whatever the issuer path is). Exit 0 when healthy.
 */
import { request as httpsRequest } from 'node:https';
import type { Config } from './config/schema.js';
import { splitAddress } from './listen-address.js';

/** Where the probe goes: a wildcard listen address is probed on loopback. */
export const probeUrl = (config: Config): string => {
  const [scheme, address] =
    config.telemetry.http !== undefined
      ? ['http', config.telemetry.http]
      : config.web.http !== undefined
        ? ['http', config.web.http]
        : ['https', config.web.https ?? ''];
  const { host, port } = splitAddress(address);
  const loopback = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `${scheme}://${loopback.includes(':') ? `[${loopback}]` : loopback}:${port}/healthz/live`;
};

/** True when the probe answers 2xx within `timeoutMs`. TLS is not verified: the certificate names the public host. */
export const probe = (url: string, timeoutMs = 3000): Promise<boolean> => {
  if (url.startsWith('http:'))
    return fetch(url, { signal: AbortSignal.timeout(timeoutMs) }).then(
      (response) => response.ok,
      () => false,
    );
  return new Promise((resolve) => {
    const req = httpsRequest(url, { rejectUnauthorized: false, timeout: timeoutMs }, (response) => {
      response.resume();
      resolve((response.statusCode ?? 500) < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
};
