import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apiConfig, callApi, startApi, type Channel, type StartedApi } from './support.js';

const openssl = (...args: string[]): void => {
  execFileSync('openssl', args, { stdio: 'ignore' });
};

/** A CA (key and self-signed certificate) made by openssl. */
const makeCa = (dir: string, name: string): { cert: string; key: string } => {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    key,
    '-out',
    cert,
  );
  return { cert, key };
};

/** A leaf certificate signed by `ca`, for localhost (server) or a client. */
const makeLeaf = (dir: string, name: string, ca: { cert: string; key: string }) => {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ${ext}`]);
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', key, '-out', csr);
  openssl(
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    ext,
    '-out',
    cert,
  );
  return { cert, key };
};

describe('gRPC API over TLS with a client CA', () => {
  let dir: string;
  let idport: StartedApi;
  let serverCa: { cert: string; key: string };
  let client: { cert: string; key: string };
  let stranger: { cert: string; key: string };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'idport-grpc-tls-'));
    serverCa = makeCa(dir, 'server-ca');
    const clientCa = makeCa(dir, 'client-ca');
    const otherCa = makeCa(dir, 'other-ca');
    const server = makeLeaf(dir, 'server', serverCa);
    client = makeLeaf(dir, 'client', clientCa);
    stranger = makeLeaf(dir, 'stranger', otherCa);
    idport = await startApi(
      apiConfig(
        `  addr: 127.0.0.1:0\n  tlsCert: ${server.cert}\n  tlsKey: ${server.key}\n  tlsClientCA: ${clientCa.cert}\n  tlsMinVersion: 1.2\n  reflection: true`,
      ),
    );
  });
  after(async () => {
    await idport.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const version = async (channel: Channel) => (await callApi(channel, [{ method: 'GetVersion' }]))[0];

  it('answers a client whose certificate the client CA signed', async () => {
    const channel = { target: idport.channel.target, ca: serverCa.cert, ...client };
    assert.deepEqual(await version(channel), { reply: { server: '0.1.0', api: 3 } });
  });

  it('refuses a certificate from another CA, no certificate, and plaintext', async () => {
    const target = idport.channel.target;
    for (const channel of [{ target, ca: serverCa.cert, ...stranger }, { target, ca: serverCa.cert }, { target }]) {
      const outcome = await version(channel);
      assert.ok(outcome && 'code' in outcome, `refused: ${JSON.stringify(channel)} got ${JSON.stringify(outcome)}`);
      assert.equal(outcome.code, 'UNAVAILABLE');
    }
  });

  it('logs no open-admin warning when client certificates are required', () => {
    assert.equal(
      idport.logs().some((line) => String(line.msg).includes('full admin access')),
      false,
    );
    assert.ok(idport.logs().some((line) => line.msg === 'enabling reflection in grpc service'));
  });
});
