/**
 * Slow uploads (issue 10): 200 connections each send a form POST to /token announcing 30,000 bytes (under the body
 * limit), send 10,000 and stall. Measures idport's RSS growth while they hang, and whether idport closes every one
 * within 35 s (its request timeout is 30 s, checked every second).
 */
import { connect, type Socket } from 'node:net';
import { configHead, mb, rssOf, startIdport, type AbuseRow } from './idport.js';

const UPLOADS = 200;
const ANNOUNCED = 30_000;
const SENT = 10_000;
const CLOSE_WITHIN_MS = 35_000;

const config = (
  issuer: string,
  port: number,
  dir: string,
): string => `${configHead({ issuer, port, dir, trustProxy: false })}staticClients:
- id: web
  name: Web
  secret: web-secret
  redirectURIs: ['http://127.0.0.1:5555/callback']
`;

/** Opens one upload and resolves when idport closes it (or rejects on a client-side error). */
const stalledUpload = (port: number, opened: () => void): Promise<void> =>
  new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `POST /dex/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
          `Content-Length: ${ANNOUNCED}\r\n\r\ngrant_type=password&username=${'u'.repeat(SENT)}`,
      );
      opened();
    });
    socket.on('data', () => undefined);
    socket.on('error', () => undefined); // a reset is a close too
    socket.on('close', () => resolve());
    socket.setTimeout(120_000, () => reject(new Error('upload still open after 120 s')));
  });

export async function run(): Promise<AbuseRow[]> {
  const idport = await startIdport(config);
  try {
    const port = Number(new URL(idport.base).port);
    const rssBefore = rssOf(idport.pid);
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(idport.pid))), 200);
    const started = Date.now();
    let closedInTime = 0;
    let open = 0;
    const uploads = Array.from({ length: UPLOADS }, () =>
      stalledUpload(port, () => open++).then(() => {
        if (Date.now() - started <= CLOSE_WITHIN_MS) closedInTime++;
      }),
    );
    await Promise.all(uploads);
    const lastClosedMs = Date.now() - started;
    clearInterval(sampler);
    peak = Math.max(peak, rssOf(idport.pid));
    const growth = peak - rssBefore;
    return [
      {
        measure: `RSS growth under ${UPLOADS} unfinished uploads (${open} opened)`,
        value: `${mb(growth)} (${mb(rssBefore)} → ${mb(peak)})`,
        limit: '100 MB',
        pass: growth <= 100_000_000,
      },
      {
        measure: `unfinished uploads closed by idport within ${CLOSE_WITHIN_MS / 1000} s`,
        value: `${closedInTime}/${UPLOADS} (last at ${(lastClosedMs / 1000).toFixed(1)} s)`,
        limit: `${UPLOADS}`,
        pass: closedInTime === UPLOADS,
      },
    ];
  } finally {
    await idport.stop();
  }
}
