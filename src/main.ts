/**
 * The process entry point `npm run build` bundles as dist/cli.js (bin/idport.js and bin/dex.js import it).
 *
 * For `serve`, it starts generating an RS256 key pair before it loads the rest of idport: a first start needs one,
 * and finding a 2048-bit RSA key (60-350 ms on the thread pool) then overlaps with loading the code and reading
 * the config rather than following them (issue 15). The signer takes the pair only when the store has no key
 * and the config signs with RS256 (the default); otherwise it is dropped, having cost one thread-pool job.
 * ES256 and EdDSA keys take under a millisecond and are not worth starting early.
 */
import { withoutDexWord } from './argv.js';
import { pregenerateSigningKey } from './signer/signer.js';

if (withoutDexWord(process.argv.slice(2))[0] === 'serve') pregenerateSigningKey('RS256');
await import('./cli.js');
