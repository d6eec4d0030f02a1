#!/usr/bin/env node
// `dex`, beside `idport`: manifests written for Dex run `dex serve /etc/dex/config.yaml`. The same compiled CLI
// (`npm run build`), which also accepts (and drops) a leading `dex` argument, as Dex's image entrypoint passes one.
try {
  await import('../dist/cli.js');
} catch (error) {
  // Only the missing build itself gets the hint; any other failure is the program's and is rethrown.
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/cli.js')) throw error;
  process.stderr.write('idport: dist/ is missing; run `npm run build` first (`npm start` builds it)\n');
  process.exit(1);
}
