/**
 * PostgreSQL for `npm run bench`: a fresh schema per idport start (dropped at the end), selected through the
 * connection URL's `options=-c search_path=…`, and the number of SQL statements each grant sends, counted by a relay
 * (bench/lib/pg-count.ts) in front of the server.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { browserLogin, redeemCode, repeat, tokenRequest } from './flows.js';
import { startStatementCounter } from './pg-count.js';
import { log } from './rounds.js';
import { startIdport, type Storage } from './servers.js';
import type { Row } from './table.js';

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Creates schemas on demand and drops every one of them in `dropAll`. */
export interface Schemas {
  /** A storage config on a new, empty schema, optionally reached through another host:port (the counter). */
  fresh(via?: { host: string; port: number }): Promise<Storage>;
  dropAll(): Promise<void>;
}

export const openSchemas = async (url: string): Promise<Schemas> => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const created: string[] = [];
  return {
    fresh: async (via) => {
      const schema = `idport_bench_${randomBytes(6).toString('hex')}`;
      await client.query(`CREATE SCHEMA ${schema}`);
      created.push(schema);
      const target = new URL(url);
      if (via !== undefined) {
        target.hostname = via.host;
        target.port = String(via.port);
      }
      target.searchParams.set('sslmode', 'disable');
      target.searchParams.set('options', `-c search_path=${schema}`);
      return { kind: 'postgres', url: target.href };
    },
    dropAll: async () => {
      for (const schema of created) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
};

/** Statements sent while `action` ran `n` times one after another, divided by `n`. */
const perCall = async (counter: { statements(): number }, n: number, action: () => Promise<unknown>) => {
  const before = counter.statements();
  await repeat(n, 1, action);
  return (counter.statements() - before) / n;
};

/** Statements per browser login and per grant on PostgreSQL (RS256), sequential, `n` of each. */
export const statementsPerGrant = async (schemas: Schemas, url: string, n = 50): Promise<Row[]> => {
  const server = new URL(url);
  const counter = await startStatementCounter({ host: server.hostname, port: Number(server.port || 5432) });
  const idport = await startIdport(await schemas.fresh({ host: '127.0.0.1', port: counter.port }), 'RS256');
  try {
    log(`statements per grant (PostgreSQL, ${n} of each, sequential)`);
    const issuer = idport.issuer;
    const idle = counter.statements();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const background = counter.statements() - idle;
    const codes: string[] = [];
    const login = await perCall(counter, n, async () => codes.push(await browserLogin(issuer, 'mock')));
    const refreshTokens: string[] = [];
    const code = await perCall(counter, n, async () => {
      const answer = await redeemCode(issuer, codes.pop() ?? '');
      refreshTokens.push(answer.refresh_token ?? '');
    });
    const refresh = await perCall(counter, n, () =>
      tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: refreshTokens.pop() ?? '' }),
    );
    const cc = await perCall(counter, n, () => tokenRequest(issuer, { grant_type: 'client_credentials' }));
    const row = (scenario: string, value: number): Row => ({
      scenario: `SQL statements per ${scenario}, PostgreSQL`,
      idport: [value.toFixed(1)],
      oidcProvider: ['—'],
      ratio: '',
      target: '',
      pass: undefined,
    });
    return [
      { ...row('browser login (/auth → mockCallback → code)', login), note: `${background} statements in 1 s idle` },
      row('authorization_code grant', code),
      row('refresh_token grant', refresh),
      row('client_credentials grant', cc),
    ];
  } finally {
    await idport.stop();
    await counter.close();
  }
};
