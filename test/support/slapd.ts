/**
 * A throwaway OpenLDAP server for tests: a temp folder, a test CA and certificates made with
 * `openssl`, the fixture tree loaded with `slapadd`, and `slapd` listening on loopback ports for
 * plain LDAP (also StartTLS) and LDAPS. Needs Debian's `slapd`, `ldap-utils` and `openssl`
 * (`.ci/run` installs them).
 *
 *   const slapd = await startSlapd();
 *   after(() => slapd.stop());
 *   const config = fixtureConnectorConfig(slapd, 'ldaps'); // an `ldap` connector's `config:` for the fixture tree
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { Client } from 'ldapts';

const run = promisify(execFile);

/** The fixture tree's LDIF; every test directory starts from it. */
export const FIXTURE_LDIF = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'ldap', 'directory.ldif');

/** Names and passwords in directory.ldif, so tests do not repeat string literals. */
export const FIXTURE = {
  baseDN: 'dc=example,dc=org',
  peopleDN: 'ou=people,dc=example,dc=org',
  contractorsDN: 'ou=contractors,dc=example,dc=org',
  groupsDN: 'ou=groups,dc=example,dc=org',
  service: { dn: 'cn=idport,dc=example,dc=org', password: 'service-secret' },
  users: {
    jane: {
      uid: 'jane',
      dn: 'uid=jane,ou=people,dc=example,dc=org',
      password: 'jane-secret',
      mail: 'jane@example.org',
      cn: 'Jane Doe',
    },
    john: {
      uid: 'john',
      dn: 'uid=john,ou=people,dc=example,dc=org',
      password: 'john-secret',
      mail: 'john@example.org',
      cn: 'John Roe',
    },
    admin: {
      uid: 'admin',
      dn: 'uid=admin,ou=people,dc=example,dc=org',
      password: 'admin-secret',
      mail: 'admin@example.org',
      cn: 'Directory Admin',
    },
    special: {
      uid: 'bob(*)\\smith',
      dn: 'uid=bob(*)\\5Csmith,ou=people,dc=example,dc=org',
      password: 'bob-secret',
      mail: 'bob@example.org',
      cn: 'Bob (*) Smith',
    },
    mover: {
      uid: 'mover',
      dn: 'uid=mover,ou=people,dc=example,dc=org',
      password: 'mover-secret',
      mail: 'mover@example.org',
      cn: 'Moe Mover',
    },
    leaver: {
      uid: 'leaver',
      dn: 'uid=leaver,ou=people,dc=example,dc=org',
      password: 'leaver-secret',
      mail: 'leaver@example.org',
      cn: 'Lee Leaver',
    },
    twin: {
      uid: 'twin',
      dn: 'uid=twin,ou=people,dc=example,dc=org',
      password: 'twin-secret',
      mail: 'twin1@example.org',
      cn: 'Twin One',
    },
  },
} as const;

/** A running slapd and everything a test needs to reach it. */
export interface Slapd {
  /** `ldap://127.0.0.1:PORT` (plain, and StartTLS). */
  readonly url: string;
  /** `ldaps://127.0.0.1:PORT`. */
  readonly ldapsUrl: string;
  readonly host: string;
  readonly port: number;
  readonly ldapsPort: number;
  /** PEM of the CA that signed the server certificate (SANs: IP 127.0.0.1 and DNS localhost). */
  readonly caPem: string;
  /** The same CA as a file, for `rootCA`. */
  readonly caFile: string;
  /** PEM of an unrelated CA: trusting only this one must fail verification. */
  readonly wrongCaPem: string;
  /** A client certificate and key signed by the test CA, for `clientCert`/`clientKey`. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** The rootdn: may write anything (tests use it to move and delete entries). */
  readonly adminDN: string;
  readonly adminPW: string;
  readonly baseDN: string;
  /** slapd's output so far (stats level), for failure messages. */
  log(): string;
  /** An ldapts client bound as the admin; the caller unbinds it. */
  adminClient(): Promise<Client>;
  /** Stops slapd and removes its folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options for `startSlapd`. */
export interface SlapdOptions {
  /** LDIF loaded before start; defaults to the fixture tree. */
  readonly ldif?: string;
  /** `TLSVerifyClient demand`: TLS clients without a certificate from the test CA are refused. */
  readonly requireClientCert?: boolean;
  /** How long to wait for slapd to accept an admin bind. */
  readonly startTimeoutMs?: number;
}

const ADMIN_DN = 'cn=admin,dc=example,dc=org';
const ADMIN_PW = 'admin-secret-pw';
const SLAPD_BIN = existsSync('/usr/sbin/slapd') ? '/usr/sbin/slapd' : 'slapd';
const SLAPADD_BIN = existsSync('/usr/sbin/slapadd') ? '/usr/sbin/slapadd' : 'slapadd';
const LOG_LIMIT = 64 * 1024;

/**
 * A Dex-style `ldap` connector config for the fixture tree: the service account, users by uid
 * (id uid, name cn, email mail), groups by DN through `member` (nested) and by uid through `memberUid`.
 * jane's groups are developers, engineering, staff, ops; john's are cycle-a, cycle-b.
 */
export function fixtureConnectorConfig(
  slapd: Slapd,
  transport: 'plain' | 'ldaps' | 'startTLS' = 'plain',
): Record<string, unknown> {
  return {
    host: `${slapd.host}:${transport === 'ldaps' ? slapd.ldapsPort : slapd.port}`,
    insecureNoSSL: transport === 'plain',
    startTLS: transport === 'startTLS',
    rootCAData: Buffer.from(slapd.caPem).toString('base64'),
    bindDN: FIXTURE.service.dn,
    bindPW: FIXTURE.service.password,
    userSearch: FIXTURE_USER_SEARCH,
    groupSearch: FIXTURE_GROUP_SEARCH,
  };
}

/** `userSearch` for the fixture tree: everyone under the base, by uid. */
export const FIXTURE_USER_SEARCH = {
  baseDN: FIXTURE.baseDN,
  filter: '(objectClass=inetOrgPerson)',
  username: 'uid',
  idAttr: 'uid',
  emailAttr: 'mail',
  nameAttr: 'cn',
  preferredUsernameAttr: 'uid',
} as const;

/** `groupSearch` for the fixture tree: groupOfNames by DN (nested through member) and posixGroup by uid. */
export const FIXTURE_GROUP_SEARCH = {
  baseDN: FIXTURE.groupsDN,
  filter: '(|(objectClass=groupOfNames)(objectClass=posixGroup))',
  userMatchers: [
    { userAttr: 'DN', groupAttr: 'member', recursionGroupAttr: 'member' },
    { userAttr: 'uid', groupAttr: 'memberUid' },
  ],
  nameAttr: 'cn',
} as const;

/** Starts slapd on free loopback ports; retries with new ports if one was taken in between. */
export async function startSlapd(options: SlapdOptions = {}): Promise<Slapd> {
  for (const bin of [SLAPD_BIN, SLAPADD_BIN]) {
    if (
      bin.startsWith('/')
        ? !existsSync(bin)
        : !(await run('sh', ['-c', `command -v ${bin}`]).then(
            () => true,
            () => false,
          ))
    ) {
      throw new Error(`${bin} is not installed: apt-get install slapd ldap-utils (.ci/run does this)`);
    }
  }
  const dir = await mkdtemp(join(tmpdir(), 'idport-slapd-'));
  try {
    const tls = await makeCertificates(dir);
    const conf = await writeConfig(dir, tls, options.requireClientCert ?? false);
    // slapadd works offline on the database files, so the tree is there before the first connection.
    await run(SLAPADD_BIN, ['-q', '-f', conf, '-l', options.ldif ?? FIXTURE_LDIF]);
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await launch(dir, conf, tls, options.startTimeoutMs ?? 15_000);
      } catch (err: unknown) {
        lastError = err;
      }
    }
    throw lastError;
  } catch (err: unknown) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

interface TlsFiles {
  readonly caPem: string;
  readonly caFile: string;
  readonly wrongCaPem: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

async function launch(dir: string, conf: string, tls: TlsFiles, startTimeoutMs: number): Promise<Slapd> {
  const [port, ldapsPort] = await freePorts(2);
  if (port === undefined || ldapsPort === undefined) throw new Error('no free ports');
  const host = '127.0.0.1';
  const url = `ldap://${host}:${port}`;
  const ldapsUrl = `ldaps://${host}:${ldapsPort}`;
  // -d keeps slapd in the foreground (so the ChildProcess is slapd itself and we own its lifetime);
  // `stats` logs one line per operation, which is what you want to read when a test fails.
  const child = spawn(SLAPD_BIN, ['-f', conf, '-h', `${url}/ ${ldapsUrl}/`, '-d', 'stats'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-LOG_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // A test process that dies without stop() must not leave a slapd behind.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitForBind(url, child, exited, () => output, startTimeoutMs);
  } catch (err: unknown) {
    process.removeListener('exit', killOnExit);
    child.kill('SIGKILL');
    await exited;
    throw err;
  }

  return {
    url,
    ldapsUrl,
    host,
    port,
    ldapsPort,
    caPem: tls.caPem,
    caFile: tls.caFile,
    wrongCaPem: tls.wrongCaPem,
    clientCertFile: tls.clientCert,
    clientKeyFile: tls.clientKey,
    adminDN: ADMIN_DN,
    adminPW: ADMIN_PW,
    baseDN: FIXTURE.baseDN,
    log: () => output,
    adminClient: async () => {
      const client = new Client({ url, timeout: 5_000, connectTimeout: 5_000 });
      await client.bind(ADMIN_DN, ADMIN_PW);
      return client;
    },
    stop,
  };
}

/** Polls an admin bind until it succeeds; fails early if slapd exits, with its log in the error. */
async function waitForBind(
  url: string,
  child: ChildProcess,
  exited: Promise<number | null>,
  log: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`slapd exited (${child.exitCode ?? child.signalCode}) before it accepted a bind:\n${log()}`);
    }
    const client = new Client({ url, timeout: 1_000, connectTimeout: 1_000 });
    try {
      await client.bind(ADMIN_DN, ADMIN_PW);
      await client.unbind();
      return;
    } catch (err: unknown) {
      lastError = err;
      await client.unbind().catch(() => undefined);
    }
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 50))]);
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(`slapd did not accept a bind within ${timeoutMs} ms (last error: ${reason}):\n${log()}`);
}

/** Ports the kernel just handed out; closed again so slapd can take them (hence the retry in startSlapd). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

const OPENSSL_CNF = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

/** A test CA, an unrelated "wrong" CA, a server certificate for 127.0.0.1/localhost and a client certificate. */
async function makeCertificates(dir: string): Promise<TlsFiles> {
  const tlsDir = join(dir, 'tls');
  await mkdir(tlsDir);
  const cnf = join(tlsDir, 'openssl.cnf');
  await writeFile(cnf, OPENSSL_CNF);
  const file = (name: string): string => join(tlsDir, name);
  // EC keys: generated in milliseconds, and GnuTLS (Debian's slapd) and Node both take them.
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const makeCa = (name: string, subject: string): Promise<unknown> =>
    run('openssl', [
      'req',
      '-x509',
      '-config',
      cnf,
      '-extensions',
      'ca',
      ...newKey,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.pem`),
      '-days',
      '2',
      '-subj',
      subject,
    ]);
  const makeLeaf = async (name: string, subject: string, extensions: string): Promise<void> => {
    await run('openssl', [
      'req',
      '-new',
      '-config',
      cnf,
      ...newKey,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.csr`),
      '-subj',
      subject,
    ]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-set_serial',
      String(Date.now()),
      '-days',
      '2',
      '-extfile',
      cnf,
      '-extensions',
      extensions,
      '-out',
      file(`${name}.pem`),
    ]);
  };
  await Promise.all([makeCa('ca', '/CN=idport test CA'), makeCa('wrong-ca', '/CN=idport unrelated CA')]);
  await Promise.all([
    makeLeaf('server', '/CN=localhost', 'server'),
    makeLeaf('client', '/CN=idport test client', 'client'),
  ]);
  return {
    caPem: await readFile(file('ca.pem'), 'utf8'),
    caFile: file('ca.pem'),
    wrongCaPem: await readFile(file('wrong-ca.pem'), 'utf8'),
    serverCert: file('server.pem'),
    serverKey: file('server.key'),
    clientCert: file('client.pem'),
    clientKey: file('client.key'),
  };
}

/** slapd.conf for one mdb database under dc=example,dc=org; anyone may read, passwords only for binds. */
async function writeConfig(dir: string, tls: TlsFiles, requireClientCert: boolean): Promise<string> {
  const dbDir = join(dir, 'db');
  await mkdir(dbDir);
  const schema = ['core', 'cosine', 'inetorgperson', 'nis']
    .map((name) => `include /etc/ldap/schema/${name}.schema`)
    .join('\n');
  const conf = `${schema}
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile ${join(dir, 'slapd.pid')}
argsfile ${join(dir, 'slapd.args')}
TLSCACertificateFile ${tls.caFile}
TLSCertificateFile ${tls.serverCert}
TLSCertificateKeyFile ${tls.serverKey}
TLSVerifyClient ${requireClientCert ? 'demand' : 'never'}

database mdb
maxsize 16777216
suffix "dc=example,dc=org"
rootdn "${ADMIN_DN}"
rootpw ${ADMIN_PW}
directory ${dbDir}
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by * read
`;
  const file = join(dir, 'slapd.conf');
  await writeFile(file, conf);
  return file;
}
