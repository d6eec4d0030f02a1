/**
 * idport's version from package.json. The file sits one directory above src/ in a checkout and two above
 * dist/src/ in a build (`npm run build`), so both are tried; the first package.json named idport wins.
 */
import { readFileSync } from 'node:fs';

const CANDIDATES = ['../package.json', '../../package.json'];

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
