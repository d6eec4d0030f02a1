/**
 * /static/* and /theme/*: the files are read once at start into a map, so a request path can only ever
 * name a file that exists there (no path traversal to guard against) and serving costs no disk I/O.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

const loadTree = (root: string): Map<string, Asset> => {
  const assets = new Map<string, Asset>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    const type = CONTENT_TYPES[extname(entry.name)];
    if (type === undefined) continue;
    assets.set(relative(root, full).split(sep).join('/'), { body: readFileSync(full), type });
  }
  return assets;
};

export const staticRoutes = async (
  app: FastifyInstance,
  options: { staticDir: string; themeDir: string },
): Promise<void> => {
  const mounts: [string, Map<string, Asset>][] = [
    ['/static/*', loadTree(options.staticDir)],
    ['/theme/*', loadTree(options.themeDir)],
  ];
  for (const [route, assets] of mounts) {
    app.get<{ Params: { '*': string } }>(route, async (request, reply) => {
      const asset = assets.get(request.params['*']);
      if (asset === undefined) return reply.code(404).type('text/plain').send('not found');
      return reply
        .type(asset.type)
        .header('Cache-Control', 'public, max-age=3600')
        .header('X-Content-Type-Options', 'nosniff')
        .send(asset.body);
    });
  }
};
