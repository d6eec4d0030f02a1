#!/usr/bin/env node
// The package's `bin`: the CLI compiled by `npm run build` into dist/, run by plain node (no TypeScript loader).
try {
  await import('../dist/cli.js');
} catch (error) {
  // Only the missing build itself gets the hint; any other failure is the program's and is rethrown.
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/cli.js')) throw error;
  process.stderr.write('idport: dist/ is missing; run `npm run build` first (`npm start` builds it)\n');
  process.exit(1);
}
