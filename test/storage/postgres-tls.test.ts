/**
 * Dex's ssl modes against a real TLS handshake. The test PostgreSQL runs without TLS, so a proxy
 * answers PostgreSQL's SSLRequest, terminates TLS with certificates made here by openssl, and
 * forwards the plaintext protocol to the server.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TLSSocket } from 'node:tls';
import { openPostgres, type PostgresSslOptions } from '../../storage/postgres/postgres.js';
import { StorageUnavailableError } from '../../storage/storage.js';
import { freshSchema, postgresSkip, postgresUrl } from '../support/postgres.js';

/** PostgreSQL's SSLRequest code (protocol §55.2.10). */
const SSL_REQUEST = 80877103;

/** What the proxy saw of one client connection. */
interface Session {
  readonly tls: boolean;
  /** Subject CN of the client certificate, when one was presented. */
  clientCn?: string;
}

interface TlsProxy {
  readonly port: number;
  readonly sessions: Session[];
  close(): Promise<void>;
}

/** Terminates TLS with `key`/`cert` (asking for a client certificate signed by `ca`) in front of PostgreSQL. */
async function startTlsProxy(target: URL, pem: { key: string; cert: string; ca: string }): Promise<TlsProxy> {
  const sessions: Session[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server: Server = createServer((socket) => {
    track(socket);
    socket.once('data', (first: Buffer) => {
      socket.pause();
      const upstream = connect(Number(target.port || 5432), target.hostname);
      track(upstream);
      const join = (client: Socket): void => {
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      };
      if (first.length >= 8 && first.readInt32BE(4) === SSL_REQUEST) {
        const session: Session = { tls: true };
        sessions.push(session);
        socket.write('S');
        const secure = new TLSSocket(socket, {
          isServer: true,
          key: pem.key,
          cert: pem.cert,
          ca: pem.ca,
          requestCert: true,
          rejectUnauthorized: false,
        });
        track(secure);
        secure.on('secure', () => {
          const cn = secure.getPeerCertificate().subject?.CN;
          if (typeof cn === 'string' && cn !== '') session.clientCn = cn;
        });
        join(secure);
      } else {
        sessions.push({ tls: false });
        upstream.write(first);
        join(socket);
        socket.resume();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(typeof address === 'object' && address !== null);
  return {
    port: address.port,
    sessions,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A test CA and, signed by it, server certificates for 127.0.0.1 and for another name, and a client certificate. */
function makeCertificates(
  dir: string,
): Record<'ca' | 'server' | 'serverKey' | 'wrongName' | 'wrongNameKey' | 'client' | 'clientKey', string> {
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=idport test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  );
  const issue = (name: string, cn: string, extensions: string): void => {
    writeFileSync(join(dir, `${name}.ext`), `${extensions}\n`);
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  };
  issue('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1');
  issue('wrong', 'db.elsewhere.example', 'subjectAltName=DNS:db.elsewhere.example');
  issue('client', 'idport', 'extendedKeyUsage=clientAuth');
  const path = (file: string): string => join(dir, file);
  return {
    ca: path('ca.crt'),
    server: path('server.crt'),
    serverKey: path('server.key'),
    wrongName: path('wrong.crt'),
    wrongNameKey: path('wrong.key'),
    client: path('client.crt'),
    clientKey: path('client.key'),
  };
}

describe('postgres ssl modes over a real TLS handshake', { skip: postgresSkip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'idport-pg-tls-'));
  let files: ReturnType<typeof makeCertificates>;
  let good: TlsProxy;
  let wrongName: TlsProxy;

  before(async () => {
    files = makeCertificates(dir);
    const target = new URL(postgresUrl ?? '');
    const ca = readFileSync(files.ca, 'utf8');
    good = await startTlsProxy(target, {
      key: readFileSync(files.serverKey, 'utf8'),
      cert: readFileSync(files.server, 'utf8'),
      ca,
    });
    wrongName = await startTlsProxy(target, {
      key: readFileSync(files.wrongNameKey, 'utf8'),
      cert: readFileSync(files.wrongName, 'utf8'),
      ca,
    });
  });
  after(async () => {
    await good?.close();
    await wrongName?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens storage through `proxy` with `ssl`, writes and reads one row, and closes it. */
  const roundTrip = async (proxy: TlsProxy, ssl: PostgresSslOptions): Promise<void> => {
    const target = new URL(postgresUrl ?? '');
    const storage = await openPostgres({
      host: '127.0.0.1',
      port: proxy.port,
      user: decodeURIComponent(target.username),
      database: target.pathname.slice(1),
      ssl,
      schema: freshSchema('tls'),
    });
    try {
      await storage.ping();
    } finally {
      await storage.close();
    }
  };
  const refused = async (proxy: TlsProxy, ssl: PostgresSslOptions, reason: RegExp): Promise<void> => {
    await assert.rejects(roundTrip(proxy, ssl), (err: unknown) => {
      assert.ok(err instanceof StorageUnavailableError, String(err));
      assert.match(err.message, /^postgres: cannot open database 127\.0\.0\.1:\d+\/\w+$/);
      assert.ok(err.cause instanceof Error);
      assert.match(err.cause.message, reason);
      return true;
    });
  };

  it('verify-full connects when the certificate chains to caFile and names the host, over TLS', async () => {
    const before = good.sessions.length;
    await roundTrip(good, { mode: 'verify-full', caFile: files.ca });
    const sessions = good.sessions.slice(before);
    assert.ok(sessions.length >= 2, 'the migration connection and a pool connection');
    assert.ok(sessions.every((s) => s.tls));
  });

  it('verify-full refuses a certificate for another host name, and one from an unknown CA', async () => {
    await refused(
      wrongName,
      { mode: 'verify-full', caFile: files.ca },
      /Hostname\/IP does not match certificate's altnames/,
    );
    await refused(good, { mode: 'verify-full' }, /^self-signed certificate in certificate chain$/);
  });

  it('verify-ca accepts another host name as long as the chain is good; require accepts any certificate', async () => {
    await roundTrip(wrongName, { mode: 'verify-ca', caFile: files.ca });
    await roundTrip(wrongName, { mode: 'require' });
  });

  it('presents the client certificate from certFile/keyFile', async () => {
    const before = good.sessions.length;
    await roundTrip(good, { mode: 'verify-full', caFile: files.ca, certFile: files.client, keyFile: files.clientKey });
    assert.ok(good.sessions.slice(before).every((s) => s.clientCn === 'idport'));
  });

  it('disable speaks plaintext', async () => {
    const before = good.sessions.length;
    await roundTrip(good, { mode: 'disable' });
    assert.ok(good.sessions.slice(before).every((s) => !s.tls));
  });
});
