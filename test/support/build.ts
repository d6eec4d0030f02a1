/** Builds dist/ (`npm run build`) when it is missing or older than the sources, for tests that run the bins. */
import { spawnSync } from 'node:child_process';

export const ensureBuilt = (): void => {
  const result = spawnSync(process.execPath, ['scripts/ensure-build.mjs'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`npm run build failed:\n${result.stdout}${result.stderr}`);
};
