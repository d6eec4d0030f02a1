/**
 * A stand-in for OpenStack Keystone's identity v3 API on a loopback port: password authentication at
 * POST /v3/auth/tokens (201 with the token in X-Subject-Token, 401 with Keystone's error body for wrong
 * credentials or a disabled user, domains by id or name), GET /v3/users/{id} and
 * GET /v3/users/{id}/groups with X-Auth-Token (the user themselves, or an admin), 404 for unknown users.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeKeystoneUser {
  readonly id: string;
  readonly name: string;
  readonly password: string;
  readonly domainId: string;
  readonly email?: string;
  readonly groups: readonly string[];
  readonly admin?: boolean;
  readonly enabled?: boolean;
}

export interface FakeKeystone {
  readonly origin: string;
  /** Bodies of the authentication requests received, to check how the domain was named. */
  readonly authRequests: unknown[];
  setUser(user: FakeKeystoneUser): void;
  deleteUser(id: string): void;
  setDown(isDown: boolean): void;
  close(): Promise<void>;
}

const error = (res: ServerResponse, code: number, title: string, message: string): void =>
  void res
    .writeHead(code, { 'content-type': 'application/json' })
    .end(JSON.stringify({ error: { code, message, title } }));

/** Starts the fake with its domains (id → name) and users. */
export async function startFakeKeystone(options: {
  domains: Readonly<Record<string, string>>;
  users: readonly FakeKeystoneUser[];
}): Promise<FakeKeystone> {
  const users = new Map(options.users.map((u) => [u.id, u]));
  const tokens = new Map<string, string>(); // token → user id
  const authRequests: unknown[] = [];
  let isDown = false;

  const authenticate = (body: string, res: ServerResponse): void => {
    let request: unknown;
    try {
      request = JSON.parse(body);
    } catch {
      return error(res, 400, 'Bad Request', 'Expecting to find application/json in request body.');
    }
    authRequests.push(request);
    const given = (request as { auth?: { identity?: { password?: { user?: Record<string, unknown> } } } }).auth
      ?.identity?.password?.user;
    const domain = (given?.domain ?? {}) as { id?: string; name?: string };
    const domainId =
      domain.id ?? Object.entries(options.domains).find(([, name]) => name === domain.name)?.[0] ?? '\u0000';
    const user = [...users.values()].find((u) => u.name === given?.name && u.domainId === domainId);
    if (user === undefined || user.password !== given?.password || user.enabled === false)
      return error(res, 401, 'Unauthorized', 'The request you have made requires authentication.');
    const token = `gAAAA${randomBytes(24).toString('base64url')}`;
    tokens.set(token, user.id);
    res.writeHead(201, { 'content-type': 'application/json', 'x-subject-token': token }).end(
      JSON.stringify({
        token: {
          methods: ['password'],
          user: {
            domain: { id: user.domainId, name: options.domains[user.domainId] },
            id: user.id,
            name: user.name,
            password_expires_at: null,
          },
          audit_ids: [randomBytes(8).toString('base64url')],
          expires_at: new Date(Date.now() + 3_600_000).toISOString(),
          issued_at: new Date().toISOString(),
        },
      }),
    );
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let body = '';
    req
      .setEncoding('utf8')
      .on('data', (chunk: string) => (body += chunk))
      .on('end', () => {
        if (isDown) return error(res, 503, 'Service Unavailable', 'The server is currently unavailable.');
        if (req.method === 'POST' && /^\/v3\/auth\/tokens\/?$/.test(url.pathname)) return authenticate(body, res);
        const caller = users.get(tokens.get(String(req.headers['x-auth-token'] ?? '')) ?? '');
        if (caller === undefined)
          return error(res, 401, 'Unauthorized', 'The request you have made requires authentication.');
        const match = /^\/v3\/users\/([^/]+)(\/groups)?$/.exec(url.pathname);
        if (req.method !== 'GET' || match === null)
          return error(res, 404, 'Not Found', 'The resource could not be found.');
        const id = decodeURIComponent(match[1] ?? '');
        if (caller.id !== id && caller.admin !== true)
          return error(
            res,
            403,
            'Forbidden',
            'You are not authorized to perform the requested action: identity:get_user.',
          );
        const user = users.get(id);
        if (user === undefined) return error(res, 404, 'Not Found', `Could not find user: ${id}.`);
        const self = `${`http://${req.headers.host ?? ''}`}${url.pathname}`;
        const answer =
          match[2] === undefined
            ? {
                user: {
                  id: user.id,
                  name: user.name,
                  domain_id: user.domainId,
                  enabled: user.enabled !== false,
                  ...(user.email === undefined ? {} : { email: user.email }),
                  password_expires_at: null,
                  options: {},
                  links: { self },
                },
              }
            : {
                groups: user.groups.map((name, i) => ({
                  id: `g${i}${randomBytes(4).toString('hex')}`,
                  name,
                  domain_id: user.domainId,
                  description: '',
                  links: { self: `http://${req.headers.host ?? ''}/v3/groups/g${i}` },
                })),
                links: { self, previous: null, next: null },
              };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    authRequests,
    setUser: (user) => void users.set(user.id, user),
    deleteUser: (id) => {
      users.delete(id);
      for (const [token, owner] of tokens) if (owner === id) tokens.delete(token);
    },
    setDown: (down) => void (isDown = down),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err === undefined ? resolve() : reject(err)));
      }),
  };
}
