/**
 * What the storage work of one authorization_code grant costs the event loop on SQLite, on this machine: read the
 * code, insert the refresh-token family, mark the code redeemed (a compare-and-swap), as the grant does them, through
 * idport's SQLite storage (storage/sqlite, WAL, synchronous NORMAL, on a file in the system's temporary folder).
 * Beside it, the same three statements through better-sqlite3 alone with rows of the same size: the floor for any
 * server that keeps these rows in SQLite on its event loop. Prints microseconds per grant, the lowest of 5 passes.
 *
 *   node --import tsx bench/sqlite-grant.ts [grants per pass, default 5000]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { encodeJson } from '../storage/codec.js';
import { openSqlite } from '../storage/sqlite/sqlite.js';
import type { AuthCode, Claims, RefreshToken } from '../storage/storage.js';

const GRANTS = Number(process.argv[2] ?? 5000);
const PASSES = 5;
const id = (): string => randomBytes(32).toString('base64url');
const inTen = (minutes: number): Date => new Date(Date.now() + minutes * 60_000);

// The mockCallback connector's user, as the bench's codes carry it.
const claims: Claims = {
  userId: 'Cg0wLTM4NS0yODA4OS0wEgRtb2Nr',
  username: 'Kilgore Trout',
  preferredUsername: 'kilgore',
  email: 'kilgore@kilgore.trout',
  emailVerified: true,
  groups: ['authors'],
};
const code = (): AuthCode => ({
  id: id(),
  clientId: 'bench',
  redirectUri: 'http://127.0.0.1:1/cb',
  redirectUriSent: true,
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  nonce: '',
  claims,
  connectorId: 'mock',
  codeChallenge: '',
  codeChallengeMethod: '',
  authTime: new Date(),
  sessionId: id(),
  expiry: inTen(10),
});
const family = (redeemed: AuthCode): RefreshToken => ({
  id: id(),
  clientId: redeemed.clientId,
  connectorId: redeemed.connectorId,
  claims: redeemed.claims,
  scopes: redeemed.scopes,
  nonce: redeemed.nonce,
  authTime: redeemed.authTime,
  sessionId: redeemed.sessionId,
  currentHash: id(),
  previousHash: '',
  rotationNonce: id(),
  createdAt: new Date(),
  lastUsed: new Date(),
});

const dir = mkdtempSync(join(tmpdir(), 'idport-sqlite-grant-'));

/** idport's storage: the calls the code grant makes, awaited one after another as there. */
const throughStorage = async (): Promise<number> => {
  const storage = await openSqlite({ file: join(dir, `storage-${Date.now()}.db`) });
  const codes = Array.from({ length: GRANTS }, code);
  for (const stored of codes) await storage.authCodes.create(stored);
  // Made beforehand, as for the statements below: their random ids are the grant's work, not the storage's.
  const families = codes.map(family);
  const started = performance.now();
  for (const [i, { id: codeId }] of codes.entries()) {
    const stored = await storage.authCodes.get(codeId);
    const fresh = families[i];
    if (stored === undefined || fresh === undefined) throw new Error('code vanished');
    await storage.refreshTokens.create(fresh);
    await storage.authCodes.update(codeId, (old) => {
      if (old.redeemedAt !== undefined) throw new Error('code redeemed twice');
      return { ...old, redeemedAt: new Date(), expiry: inTen(60), refreshTokenId: fresh.id };
    });
  }
  const perGrant = ((performance.now() - started) * 1000) / GRANTS;
  await storage.close();
  return perGrant;
};

/** The same statements with better-sqlite3 alone, on tables of the same shape, rows encoded once beforehand. */
const rawStatements = (): number => {
  const db = new Database(join(dir, `raw-${Date.now()}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  for (const table of ['auth_codes', 'refresh_tokens'])
    db.exec(`CREATE TABLE ${table} (id TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL, expiry INTEGER) STRICT;
      CREATE INDEX ${table}_expiry ON ${table} (expiry);`);
  const insertCode = db.prepare('INSERT INTO auth_codes (id, expiry, data) VALUES (?, ?, ?)');
  const selectCode = db.prepare<[string], { data: string }>('SELECT data FROM auth_codes WHERE id = ?');
  const updateCode = db.prepare('UPDATE auth_codes SET expiry = ?, data = ? WHERE id = ?');
  const insertFamily = db.prepare('INSERT INTO refresh_tokens (id, expiry, data) VALUES (?, ?, ?)');
  const redeem = db.transaction((codeId: string, data: string) => {
    selectCode.get(codeId);
    updateCode.run(inTen(60).getTime(), data, codeId);
  });
  const codes = Array.from({ length: GRANTS }, code);
  for (const stored of codes) insertCode.run(stored.id, stored.expiry.getTime(), encodeJson(stored));
  const families = codes.map((stored) => {
    const fresh = family(stored);
    return {
      id: fresh.id,
      data: encodeJson(fresh),
      redeemed: encodeJson({ ...stored, redeemedAt: new Date(), refreshTokenId: fresh.id }),
    };
  });
  const started = performance.now();
  codes.forEach(({ id: codeId }, i) => {
    const next = families[i];
    if (next === undefined) return;
    selectCode.get(codeId);
    insertFamily.run(next.id, null, next.data);
    redeem.immediate(codeId, next.redeemed);
  });
  const perGrant = ((performance.now() - started) * 1000) / GRANTS;
  db.close();
  return perGrant;
};

try {
  const storage: number[] = [];
  const raw: number[] = [];
  for (let pass = 0; pass < PASSES; pass++) {
    storage.push(await throughStorage());
    raw.push(rawStatements());
  }
  const lowest = (values: number[]): string => `${Math.min(...values).toFixed(1)} µs`;
  console.log(`SQLite work of one authorization_code grant, ${GRANTS} grants a pass, lowest of ${PASSES} passes:`);
  console.log(`  idport's storage (read code, insert family, redeem code): ${lowest(storage)}`);
  console.log(`  better-sqlite3 alone, the same statements, rows pre-encoded: ${lowest(raw)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
