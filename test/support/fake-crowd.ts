/**
 * A stand-in for Atlassian Crowd's usermanagement REST API (/rest/usermanagement/1) on a loopback port,
 * under a context path: every call authenticated as an application with HTTP Basic (401 "Application
 * failed to authenticate" in plain text otherwise), POST /session (201 with a token; 400 with a
 * `reason` for wrong credentials or an inactive account; `validate-password=false` skips the password),
 * GET /user?username= (404 USER_NOT_FOUND), and GET /user/group/nested paged by start-index/max-results.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeCrowdUser {
  readonly key: string;
  readonly name: string;
  readonly password: string;
  readonly email: string;
  readonly active?: boolean;
  /** Direct and inherited groups: what the nested endpoint lists. */
  readonly groups: readonly string[];
}

export interface FakeCrowd {
  /** The base URL as configured in Dex: origin plus the context path. */
  readonly baseURL: string;
  readonly appName: string;
  readonly appPassword: string;
  readonly paths: string[];
  setUser(user: FakeCrowdUser): void;
  deleteUser(name: string): void;
  setDown(isDown: boolean): void;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown): void =>
  void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const reason = (res: ServerResponse, status: number, code: string, message: string): void =>
  json(res, status, { reason: code, message });

/** Starts the fake with the application's credentials and users. */
export async function startFakeCrowd(options: { users: readonly FakeCrowdUser[] }): Promise<FakeCrowd> {
  const appName = 'idport-app';
  const appPassword = 'app-p4ss';
  const contextPath = '/crowd';
  const prefix = `${contextPath}/rest/usermanagement/1`;
  const users = new Map(options.users.map((u) => [u.name, u]));
  const paths: string[] = [];
  let isDown = false;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let raw = '';
    req
      .setEncoding('utf8')
      .on('data', (chunk: string) => (raw += chunk))
      .on('end', () => {
        paths.push(`${req.method ?? ''} ${url.pathname}${url.search}`);
        if (isDown) return void res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>Service Unavailable</h1>');
        const basic = Buffer.from(`${appName}:${appPassword}`).toString('base64');
        if (req.headers.authorization !== `Basic ${basic}`)
          return void res.writeHead(401, { 'content-type': 'text/plain' }).end('Application failed to authenticate');
        const path = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : '';
        const username = url.searchParams.get('username') ?? '';
        if (req.method === 'POST' && path === '/session') {
          const body = JSON.parse(raw || '{}') as { username?: string; password?: string };
          const user = users.get(body.username ?? '');
          const checkPassword = url.searchParams.get('validate-password') !== 'false';
          if (user === undefined || (checkPassword && user.password !== body.password))
            return reason(
              res,
              400,
              'INVALID_USER_AUTHENTICATION',
              'Failed to authenticate principal, password was invalid',
            );
          if (user.active === false)
            return reason(res, 400, 'INACTIVE_ACCOUNT', `Account with name <${user.name}> is inactive`);
          const now = Date.now();
          return json(res, 201, {
            expand: 'user',
            token: randomBytes(12).toString('base64url'),
            user: { name: user.name },
            'created-date': now,
            'expiry-date': now + 3_600_000,
          });
        }
        if (req.method === 'GET' && path === '/user') {
          const user = users.get(username);
          if (user === undefined) return reason(res, 404, 'USER_NOT_FOUND', `User <${username}> does not exist`);
          return json(res, 200, {
            expand: 'attributes',
            name: user.name,
            'first-name': user.name,
            'last-name': '',
            'display-name': user.name,
            email: user.email,
            password: { link: {} },
            key: user.key,
            active: user.active !== false,
          });
        }
        if (req.method === 'GET' && path === '/user/group/nested') {
          const user = users.get(username);
          if (user === undefined) return reason(res, 404, 'USER_NOT_FOUND', `User <${username}> does not exist`);
          const start = Number(url.searchParams.get('start-index') ?? 0);
          const max = Number(url.searchParams.get('max-results') ?? 1000);
          return json(res, 200, {
            expand: 'group',
            groups: user.groups.slice(start, start + max).map((name) => ({ link: { rel: 'self' }, name })),
          });
        }
        reason(res, 404, 'NOT_FOUND', 'Not found');
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}${contextPath}`,
    appName,
    appPassword,
    paths,
    setUser: (user) => void users.set(user.name, user),
    deleteUser: (name) => void users.delete(name),
    setDown: (down) => void (isDown = down),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err === undefined ? resolve() : reject(err)));
      }),
  };
}
