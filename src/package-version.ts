/**
 * idport's version from package.json, one directory above this module: above src/ in a checkout, above dist/ in a
 * build (`npm run build` bundles every chunk directly into dist/). Anything else named package.json is ignored.
 */
import { readFileSync } from 'node:fs';

const CANDIDATES = ['../package.json'];

const read = (relative: string): { name?: unknown; version?: unknown } | undefined => {
  try {
    return JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as {
      name?: unknown;
      version?: unknown;
    };
  } catch {
    return undefined;
  }
};

export const packageVersion = (): string => {
  for (const candidate of CANDIDATES) {
    const pkg = read(candidate);
    if (pkg?.name === 'idport') return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  }
  return 'unknown';
};
