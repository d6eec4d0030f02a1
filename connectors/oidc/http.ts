/**
 * The HTTP client the connector hands to openid-client. It is the injected `fetch`, except for
 * https requests when `rootCAs` or `insecureSkipVerify` is set: Node's built-in fetch cannot take
 * per-request CAs, so those go through node:https with the system roots plus the configured ones
 * (what Dex's pkg/httpclient does). Every request is also aborted when the connector closes.
 */
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';

import type { CustomFetch, CustomFetchOptions } from 'openid-client';

/** TLS settings for the upstream. */
export interface TlsOptions {
  /** Extra trusted CAs (PEM), added to the system roots. */
  readonly ca: readonly string[];
  readonly rejectUnauthorized: boolean;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----/;

/** Reads Dex's `rootCAs` entries: each a file path, base64 of PEM, or PEM text, tried in that order. */
export async function loadRootCAs(entries: readonly string[]): Promise<string[]> {
  const pems: string[] = [];
  for (const [index, entry] of entries.entries()) {
    if (entry === '') continue;
    let pem: string;
    try {
      pem = await readFile(entry, 'utf8');
    } catch {
      const decoded = Buffer.from(entry, 'base64').toString('utf8');
      pem = PEM_CERTIFICATE.test(decoded) ? decoded : entry;
    }
    if (!PEM_CERTIFICATE.test(pem)) {
      throw new Error(
        `rootCAs[${index}] is not in PEM format: a certificate must be a PEM encoded string, base64 encoded PEM, or a path to a PEM file`,
      );
    }
    pems.push(pem);
  }
  return pems;
}

/** The fetch for openid-client: `base` (the injected fetch), or node:https when custom TLS is configured. */
export function upstreamFetch(base: typeof fetch, tls: TlsOptions | undefined, closing: AbortSignal): CustomFetch {
  return (url, options) => {
    const signal = options.signal === undefined ? closing : AbortSignal.any([options.signal, closing]);
    if (tls !== undefined && url.startsWith('https:')) return httpsFetch(url, { ...options, signal }, tls);
    return base(url, { ...options, body: toBody(options.body), signal });
  };
}

// openid-client sends strings or URLSearchParams; the rest of its FetchBody union is passed on as bytes.
function toBody(
  body: CustomFetchOptions['body'],
): string | Uint8Array | URLSearchParams | ReadableStream | null | undefined {
  return body instanceof ArrayBuffer ? new Uint8Array(body) : body;
}

function httpsFetch(url: string, options: CustomFetchOptions, tls: TlsOptions): Promise<Response> {
  const body = options.body;
  if (body instanceof ReadableStream) return Promise.reject(new TypeError('streamed request bodies are not supported'));
  const payload =
    body === undefined || body === null
      ? undefined
      : typeof body === 'string' || body instanceof URLSearchParams
        ? String(body)
        : Buffer.from(body instanceof ArrayBuffer ? new Uint8Array(body) : body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: options.method,
        headers:
          payload === undefined
            ? options.headers
            : { ...options.headers, 'content-length': String(Buffer.byteLength(payload)) },
        ca: [...rootCertificates, ...tls.ca],
        rejectUnauthorized: tls.rejectUnauthorized,
        signal: options.signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
          }
          const status = res.statusCode ?? 502;
          // A Response for 204/304 must not have a body.
          const content = status === 204 || status === 304 ? null : Buffer.concat(chunks);
          resolve(new Response(content, { status, statusText: res.statusMessage ?? '', headers }));
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
