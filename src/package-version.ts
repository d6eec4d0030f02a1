/**
 * idport's version from package.json, one directory above this module: above src/ in a checkout, above dist/ in a
 * build (`npm run build` bundles every chunk directly into dist/). Anything else named package.json is ignored.
 */
import { readFileSync } from 'node:fs';

/** 'unknown' when package.json cannot be read or is not idport's. */
export const packageVersion = (): string => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      name?: unknown;
      version?: unknown;
    };
    return pkg.name === 'idport' && typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
};
