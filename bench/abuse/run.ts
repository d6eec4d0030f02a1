/**
 * `npm run bench:abuse`: idport under hostile load (issue 10). Runs every `*.section.ts` module beside this file, in
 * name order (each exports `run(): Promise<AbuseRow[]>`), and prints one table; exits 1 when a row fails its limit.
 * A new section is a new file; this one does not change.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AbuseRow } from './idport.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const sections = readdirSync(here)
  .filter((name) => name.endsWith('.section.ts'))
  .filter((name) => only.length === 0 || only.some((wanted) => name.startsWith(wanted)))
  .sort();

const rows: (AbuseRow & { section: string })[] = [];
for (const file of sections) {
  const section = file.replace(/\.section\.ts$/, '');
  process.stderr.write(`bench:abuse ${section} …\n`);
  const module = (await import(pathToFileURL(`${here}${file}`).href)) as { run: () => Promise<AbuseRow[]> };
  for (const row of await module.run()) rows.push({ section, ...row });
}

const table = [
  ['section', 'measure', 'value', 'limit', 'pass'],
  ...rows.map((r) => [r.section, r.measure, r.value, r.limit, r.pass ? 'yes' : 'NO']),
];
const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
for (const row of table)
  console.log(
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
if (rows.some((r) => !r.pass)) process.exitCode = 1;
