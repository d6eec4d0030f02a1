/**
 * A reverse proxy on a loopback port in front of idport, as an authenticating proxy (Apache mod_auth_*,
 * oauth2-proxy) is deployed in front of Dex's authproxy connector: it guards one path, where it
 * replaces any client-sent identity headers with the signed-in user's, and passes every other request
 * through unchanged (client-sent headers included, so tests can show idport ignores them there).
 */
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AuthProxy {
  readonly origin: string;
  /** The headers the proxy sets on the guarded path (undefined: nobody signed in, the proxy answers 401). */
  signIn(headers: Record<string, string> | undefined): void;
  /** Sends requests on to this port (idport's, known only after it started). */
  setTarget(port: number): void;
  close(): Promise<void>;
}

/** Starts the proxy on `port` (0: any free port), guarding paths that start with `guardedPath`. */
export async function startAuthProxy(options: {
  port: number;
  guardedPath: string;
  identityHeaders: readonly string[];
}): Promise<AuthProxy> {
  let signedIn: Record<string, string> | undefined;
  let target = 0;
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const headers = { ...req.headers };
    if (path.startsWith(options.guardedPath)) {
      if (signedIn === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="idport"' }).end('Unauthorized');
        return;
      }
      for (const name of options.identityHeaders) delete headers[name.toLowerCase()];
      Object.assign(headers, signedIn);
    }
    const upstream = httpRequest({ host: '127.0.0.1', port: target, method: req.method, path, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end('Bad Gateway'));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(options.port, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    signIn: (headers) => void (signedIn = headers),
    setTarget: (port) => void (target = port),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err === undefined ? resolve() : reject(err)));
      }),
  };
}
