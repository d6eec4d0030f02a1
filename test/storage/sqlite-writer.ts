/**
 * Child process for the cross-process test in sqlite.test.ts: opens its own connection to the file
 * named by argv[2], says 'ready', waits for 'go' (so both writers start together), then increments a
 * refresh token's use count (fixtures.ts `useOnce`) argv[3] times.
 */
import { once } from 'node:events';
import { openSqlite } from '../../storage/sqlite/sqlite.js';
import { useOnce } from './fixtures.js';

const [file, count] = process.argv.slice(2);
const updates = Number(count);
if (file === undefined || !Number.isInteger(updates) || process.send === undefined) {
  throw new Error('usage: fork sqlite-writer.ts <file> <updates> with an IPC channel');
}
const storage = await openSqlite({ file });
process.send('ready');
await once(process, 'message');
for (let i = 0; i < updates; i++) {
  await storage.refreshTokens.update('refresh-token-1', useOnce);
}
await storage.close();
process.disconnect();
