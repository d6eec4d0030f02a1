/**
 * The logger's own rules: a request line written by `logRequestLine` is the line pino (and Dex's text format) would
 * write for the same fields, byte for byte but the time; and stderr's batching keeps lines whole, in order, and
 * written by the end of the turn that logged them.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { batchedWriter, createLogger, DeferredChildLogger, logRequestLine, type RequestLine } from '../../src/log.js';

/** A logger in `format` writing to an array of lines. */
const capture = (format: 'text' | 'json', level = 'info') => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(line);
      callback();
    },
  });
  return { lines, logger: createLogger({ level, format, destination }) };
};

/** A line with its time taken out (both paths read the clock themselves). */
const timeless = (line: string | undefined): string =>
  (line ?? '').replace(/"time":\d+/, '"time":T').replace(/^time=\S+/, 'time=T');

const LINES: readonly RequestLine[] = [
  { reqId: 'r-1', method: 'GET', url: '/dex/keys', status: 200, durationMs: 0, remoteAddress: '127.0.0.1' },
  { reqId: 'r-2', method: 'POST', url: '/dex/token', status: 400, durationMs: 12, remoteAddress: undefined },
  {
    reqId: 'a "quoted" id',
    method: 'GET',
    url: '/dex/auth?state=a b&redirect_uri=https://x/"é\\n\u0001',
    status: 302,
    durationMs: 3,
    remoteAddress: '::ffff:10.0.0.1',
  },
];

describe('request lines', () => {
  for (const format of ['json', 'text'] as const) {
    it(`are written as pino writes them (${format})`, () => {
      for (const line of LINES) {
        const fast = capture(format);
        const { reqId, ...fields } = line;
        const msg = `${line.method} ${line.url} ${line.status}`;
        logRequestLine(fast.logger.child({ reqId }), 'info', line, msg);
        const slow = capture(format);
        slow.logger.child({ reqId }).info(fields, msg);
        assert.equal(fast.lines.length, 1);
        assert.equal(timeless(fast.lines[0]), timeless(slow.lines[0]));
        assert.notEqual(timeless(fast.lines[0]), fast.lines[0], 'the line has a time');
      }
    });
  }

  it('follow the level: debug lines only when debug is on, error lines always', () => {
    const info = capture('json', 'info');
    logRequestLine(info.logger.child({ reqId: 'p' }), 'debug', LINES[0] as RequestLine, 'GET /healthz 200');
    logRequestLine(info.logger.child({ reqId: 'e' }), 'error', LINES[1] as RequestLine, 'POST /dex/token 500');
    assert.deepEqual(
      info.lines.map((line) => (JSON.parse(line) as { level: string }).level),
      ['error'],
    );
    const debug = capture('text', 'debug');
    logRequestLine(debug.logger.child({ reqId: 'p' }), 'debug', LINES[0] as RequestLine, 'GET /healthz 200');
    assert.match(debug.lines[0] ?? '', /^time=\S+ level=DEBUG msg="GET \/healthz 200" reqId=r-1 /);
  });

  it('go through any other logger as an ordinary entry', () => {
    const entries: unknown[] = [];
    const plain = {
      level: 'info',
      debug: () => assert.fail('not at debug'),
      info: (object: object, msg: string) => entries.push({ ...object, msg }),
      error: () => assert.fail('not at error'),
    };
    logRequestLine(plain, 'info', LINES[0] as RequestLine, 'GET /dex/keys 200');
    assert.deepEqual(entries, [
      {
        method: 'GET',
        url: '/dex/keys',
        status: 200,
        durationMs: 0,
        remoteAddress: '127.0.0.1',
        msg: 'GET /dex/keys 200',
      },
    ]);
  });
});

describe('batched writes', () => {
  it('writes a turn’s lines together, in order, after the turn', async () => {
    const writes: string[] = [];
    const writer = batchedWriter({ write: (text: string) => writes.push(text) });
    writer.write('a\n');
    writer.write('b\n');
    assert.deepEqual(writes, [], 'nothing during the turn');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(writes, ['a\nb\n']);
    writer.write('c\n');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(writes, ['a\nb\n', 'c\n']);
  });

  it('writes at once past 64 KiB, and everything on flush', () => {
    const writes: string[] = [];
    const writer = batchedWriter({ write: (text: string) => writes.push(text) });
    const big = `${'x'.repeat(40 * 1024)}\n`;
    writer.write(big);
    assert.equal(writes.length, 0);
    writer.write(big);
    assert.deepEqual(writes, [big + big]);
    writer.write('tail\n');
    writer.flush();
    assert.deepEqual(writes, [big + big, 'tail\n']);
    writer.flush();
    assert.equal(writes.length, 2, 'an empty flush writes nothing');
  });
});

describe("a request's deferred child logger", () => {
  it('writes what a pino child would: its bindings, redaction, levels, and grandchildren', () => {
    const { lines, logger } = capture('json', 'info');
    const child = new DeferredChildLogger(logger, { reqId: 'r-9' });
    child.warn({ password: 'hunter2', where: 'login' }, 'refused');
    child.debug('below the level');
    child.child({ component: 'x' }).error('failed');
    const [warned, failed, ...rest] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(rest.length, 0);
    assert.deepEqual(
      { ...warned, time: 0 },
      { level: 'warn', time: 0, reqId: 'r-9', password: '[Redacted]', where: 'login', msg: 'refused' },
    );
    assert.equal(failed?.reqId, 'r-9');
    assert.equal(failed?.component, 'x');
  });

  it("writes a request line through the parent's writer and follows the parent's level until it logs", () => {
    const { lines, logger } = capture('json', 'error');
    const child = new DeferredChildLogger(logger, { reqId: 'r-1' });
    assert.equal(child.level, 'error');
    logRequestLine(child, 'info', LINES[0] as RequestLine, 'GET /dex/keys 200');
    assert.equal(lines.length, 0);
    logger.level = 'info';
    assert.equal(child.level, 'info');
    logRequestLine(child, 'info', LINES[0] as RequestLine, 'GET /dex/keys 200');
    assert.equal(lines.length, 1);
    assert.equal((JSON.parse(lines[0] ?? '{}') as { reqId?: string }).reqId, 'r-1');
  });
});
