// The second half of `npm run build`: tsc emits only JavaScript, and web/ reads its static files and themes
// next to its own module at runtime (web/assets.ts), so they are copied beside dist/web/. Then a stamp records
// when the build finished, so tests that run the compiled bin can tell a stale dist/ from a fresh one.
import { cpSync, writeFileSync } from 'node:fs';

for (const dir of ['static', 'themes']) cpSync(`web/${dir}`, `dist/web/${dir}`, { recursive: true });
writeFileSync('dist/.build-stamp', `${new Date().toISOString()}\n`);
