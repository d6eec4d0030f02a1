/** A client's back-channel logout endpoint (OpenID Back-Channel Logout §2.5) on port 0: records each logout_token. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';

export interface BackchannelReceiver {
  readonly url: string;
  /** The logout_tokens POSTed so far, in arrival order. */
  readonly tokens: string[];
  /** The `sid` of each logout_token so far. */
  sids(): string[];
  close(): Promise<void>;
}

export const startBackchannelReceiver = async (): Promise<BackchannelReceiver> => {
  const tokens: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      tokens.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/backchannel`,
    tokens,
    sids: () => tokens.map((token) => String(decodeJwt(token).sid)),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
};
