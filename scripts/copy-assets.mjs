// The second half of `npm run build`: tsc emits only JavaScript, and web/ reads its static files and themes
// next to its own module at runtime (web/assets.ts), so they are copied beside dist/web/; the gRPC API's proto is
// copied beside dist/src/grpc/. Then a stamp records when the build finished, so tests that run the compiled bin
// can tell a stale dist/ from a fresh one.
import { cpSync, writeFileSync } from 'node:fs';

for (const dir of ['static', 'themes']) cpSync(`web/${dir}`, `dist/web/${dir}`, { recursive: true });
// The gRPC listener loads Dex's proto beside its own module (src/grpc/server.ts).
cpSync('src/grpc/api.proto', 'dist/src/grpc/api.proto');
writeFileSync('dist/.build-stamp', `${new Date().toISOString()}\n`);
