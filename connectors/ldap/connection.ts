/**
 * Getting a bound LDAP connection: transport (LDAPS, StartTLS, plain), TLS trust, per-step
 * timeouts and failover across the configured hosts. One connection serves one login or refresh
 * and is closed afterwards, as Dex does, so a directory restart never leaves a stale pool behind.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';

import {
  BusyError,
  Client,
  ConstraintViolationError,
  type Entry,
  type Filter,
  InvalidCredentialsError,
  ResultCodeError,
  UnavailableError,
} from 'ldapts';
import type { Logger } from 'pino';

import { ConnectorError } from '../connector.js';
import type { HostAddress, LdapConfig } from './config.js';

/** How the connection is secured, by Dex's precedence: insecureNoSSL, then startTLS, else LDAPS. */
export type Transport = 'ldaps' | 'startTLS' | 'plain';

/** What a user may see when no directory server could be used; details go to the log. */
export const UNAVAILABLE_MESSAGE = 'The directory is unavailable. Try again later.';

/** Everything needed to reach the directory, resolved once when the connector opens. */
export interface ConnectionSettings {
  readonly hosts: readonly HostAddress[];
  readonly transport: Transport;
  /** Trust and client certificate; used for LDAPS and StartTLS, never for plain. */
  readonly tls: Readonly<Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>>;
  readonly timeoutMs: number;
  readonly bindDN: string;
  readonly bindPW: string;
}

/** Resolves transport and TLS files from the config; throws at startup for unreadable or empty CA data. */
export async function connectionSettings(
  config: LdapConfig,
  hosts: readonly HostAddress[],
): Promise<ConnectionSettings> {
  const transport: Transport = config.insecureNoSSL ? 'plain' : config.startTLS ? 'startTLS' : 'ldaps';
  let ca: string | undefined;
  if (config.rootCAData !== '') {
    ca = Buffer.from(config.rootCAData, 'base64').toString('utf8');
    checkPemCertificates(ca, 'rootCAData');
  } else if (config.rootCA !== '') {
    ca = await readConfigFile(config.rootCA, 'rootCA');
    checkPemCertificates(ca, `rootCA ${config.rootCA}`);
  }
  const clientCert = config.clientCert !== '' ? await readConfigFile(config.clientCert, 'clientCert') : undefined;
  const clientKey = config.clientKey !== '' ? await readConfigFile(config.clientKey, 'clientKey') : undefined;
  return {
    hosts,
    transport,
    tls: { ca, cert: clientCert, key: clientKey, rejectUnauthorized: !config.insecureSkipVerify },
    timeoutMs: config.timeout,
    bindDN: config.bindDN,
    bindPW: config.bindPW,
  };
}

async function readConfigFile(path: string, key: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err: unknown) {
    throw new Error(`ldap: cannot read ${key} file ${path}: ${messageOf(err)}`, { cause: err });
  }
}

// Dex fails with "no certs found in ca file"; an unparsable bundle would otherwise only show at the first login.
function checkPemCertificates(pem: string, what: string): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`ldap: no PEM certificates found in ${what}`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err: unknown) {
      throw new Error(`ldap: ${what} holds a certificate that does not parse: ${messageOf(err)}`, { cause: err });
    }
  }
}

/** The default port of a transport: 636 for LDAPS; 389 for plain and StartTLS (which upgrades on the plain port). */
export function serverUrl(host: HostAddress, transport: Transport): string {
  const port = host.port ?? (transport === 'ldaps' ? 636 : 389);
  const name = isIP(host.hostname) === 6 ? `[${host.hostname}]` : host.hostname;
  return `${transport === 'ldaps' ? 'ldaps' : 'ldap'}://${name}:${port}`;
}

/** One LDAP search: the filter is an object, never text, so values cannot inject filter syntax. */
export interface LdapSearch {
  readonly baseDN: string;
  readonly scope: 'sub' | 'one';
  readonly filter: Filter;
  readonly attributes: string[];
  /** 0: no limit. */
  readonly sizeLimit?: number;
}

/** A connection bound as the service account, to one server. */
export class Session {
  readonly server: string;
  private readonly client: Client;
  private readonly settings: ConnectionSettings;

  constructor(client: Client, server: string, settings: ConnectionSettings) {
    this.client = client;
    this.server = server;
    this.settings = settings;
  }

  /** Binds as the service account, or anonymously when bindDN and bindPW are both empty (as Dex). */
  async bindService(): Promise<void> {
    await this.client.bind(this.settings.bindDN, this.settings.bindPW);
  }

  /**
   * Binds as `dn` with `password`: true if the directory accepted it, false for wrong credentials.
   * Callers must never pass an empty password: that is an unauthenticated bind, which servers accept.
   */
  async checkPassword(dn: string, password: string): Promise<boolean> {
    if (password === '') throw new Error('ldap: refusing an empty-password bind');
    try {
      await this.client.bind(dn, password);
      return true;
    } catch (err: unknown) {
      // Dex treats constraintViolation as a wrong password too (some servers report locked or expired accounts so).
      if (err instanceof InvalidCredentialsError || err instanceof ConstraintViolationError) return false;
      throw err;
    }
  }

  /** Searches with a filter object, so values are encoded as BER octets and never parsed as filter syntax. */
  async search(search: LdapSearch): Promise<Entry[]> {
    const { baseDN, scope, filter, attributes, sizeLimit = 0 } = search;
    const { searchEntries } = await this.client.search(baseDN, { scope, filter, attributes, sizeLimit });
    return searchEntries;
  }

  /** Ends the connection; errors are ignored because the work is done. */
  async close(): Promise<void> {
    await this.client.unbind().catch(() => undefined);
  }
}

/**
 * Connects to the first host that works: TCP (and TLS), StartTLS if configured, and the service bind.
 * A host that cannot be reached, does not answer in time, fails TLS, or answers busy/unavailable is
 * logged and the next one is tried. A host that answers with any other LDAP error (such as a wrong
 * bindPW) stops here: every replica would say the same.
 */
export async function openSession(settings: ConnectionSettings, log: Logger): Promise<Session> {
  const failures: string[] = [];
  for (const host of settings.hosts) {
    const server = serverUrl(host, settings.transport);
    const client = new Client({
      url: server,
      // connectTimeout covers TCP and, for LDAPS, the TLS handshake; timeout covers each request.
      connectTimeout: settings.timeoutMs,
      timeout: settings.timeoutMs,
      tlsOptions: settings.transport === 'ldaps' ? { ...settings.tls } : undefined,
    });
    const session = new Session(client, server, settings);
    try {
      if (settings.transport === 'startTLS') await startTLS(client, host, settings);
      await session.bindService();
      return session;
    } catch (err: unknown) {
      await session.close();
      const reason = describeFailure(err, server, settings.timeoutMs);
      if (err instanceof ResultCodeError && !(err instanceof BusyError || err instanceof UnavailableError)) {
        log.error({ server, reason }, 'LDAP service account bind failed; check bindDN and bindPW');
        throw new ConnectorError(`ldap: ${server}: service account bind failed: ${reason}`, UNAVAILABLE_MESSAGE, {
          cause: err,
          temporary: true,
        });
      }
      if (isCertificateError(err)) {
        log.error(
          { server, reason },
          `TLS certificate of ${server} did not verify: ${reason}; trust its CA with rootCA or rootCAData (insecureSkipVerify only for testing)`,
        );
      } else {
        log.warn({ server, reason }, `LDAP server ${server} cannot be used`);
      }
      failures.push(`${server}: ${reason}`);
    }
  }
  const more = settings.hosts.length > 1 ? ' (all hosts tried)' : '';
  throw new ConnectorError(`ldap: no directory server usable${more}: ${failures.join('; ')}`, UNAVAILABLE_MESSAGE, {
    temporary: true,
  });
}

// ldapts bounds the StartTLS request but not the TLS handshake that follows it, so bound that here.
async function startTLS(client: Client, host: HostAddress, settings: ConnectionSettings): Promise<void> {
  const options: ConnectionOptions = {
    ...settings.tls,
    // The certificate is checked against this name; SNI only carries DNS names (RFC 6066 §3).
    host: host.hostname,
    ...(isIP(host.hostname) === 0 ? { servername: host.hostname } : {}),
  };
  const upgrade = client.startTLS(options);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error('TLS handshake after StartTLS: Operation timed out')),
      settings.timeoutMs,
    );
  });
  try {
    await Promise.race([upgrade, deadline]);
  } catch (err: unknown) {
    upgrade.catch(() => undefined); // the abandoned upgrade settles when close() destroys the socket
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

// Node's X.509 verification codes (UNABLE_TO_VERIFY_LEAF_SIGNATURE, SELF_SIGNED_CERT_IN_CHAIN, CERT_HAS_EXPIRED, ...).
function isCertificateError(err: unknown): boolean {
  const code = codeOf(err);
  return (
    code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY|SIGNATURE|ALTNAME|HOSTNAME/.test(code)
  );
}

/** One line for the log: what went wrong at `server`, with timeouts and TLS failures spelled out. */
export function describeFailure(err: unknown, server: string, timeoutMs: number): string {
  const message = messageOf(err);
  if (/timed out|Connection timeout/i.test(message)) return `no answer within ${timeoutMs} ms (${message})`;
  if (isCertificateError(err)) return `certificate not trusted (${codeOf(err) ?? ''}: ${message})`;
  if (err instanceof ResultCodeError) return `${err.name} (LDAP result ${err.code}): ${message}`;
  const code = codeOf(err);
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

// An error's message without assuming it is an Error.
function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
