/**
 * The process logger: pino JSON by default in production tooling, or Dex's `text` format (one
 * human-readable line per entry). Secrets are redacted wherever they appear in a log object.
 */
import { pino, type Bindings, type ChildLoggerOptions, type DestinationStream, type LogFn, type Logger } from 'pino';

/**
 * Paths pino replaces with [Redacted] (ARCHITECTURE.md decision 11): password, client_secret, code, refresh_token,
 * authorization.
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'client_secret',
  '*.client_secret',
  'code',
  '*.code',
  'refresh_token',
  '*.refresh_token',
  'access_token',
  '*.access_token',
  'id_token',
  '*.id_token',
  'authorization',
  '*.authorization',
  'cookie',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'bindPW',
  '*.bindPW',
  'clientSecret',
  '*.clientSecret',
];

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** logfmt-style value: bare when safe, JSON-quoted otherwise. */
const formatValue = (value: unknown): string => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /^[\w./:@-]+$/.test(text ?? '') ? (text ?? '') : JSON.stringify(text);
};

/** One pino JSON line as `time=… level=… msg=… key=value`, as Dex's text logger prints; other text as it is. */
const textLine = (line: string): string => {
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const { time, level, msg, pid: _pid, hostname: _hostname, ...rest } = entry;
    let text = `time=${new Date(Number(time)).toISOString()} level=${LEVEL_NAMES[Number(level)] ?? String(level).toUpperCase()} msg=${formatValue(msg ?? '')}`;
    for (const key in rest) text += ` ${key}=${formatValue(rest[key])}`;
    return `${text}\n`;
  } catch {
    return `${line}\n`;
  }
};

/** Where finished lines go: a stream, or a batch of them (see `batchedWriter`). */
interface LineSink {
  write(text: string): unknown;
}

/** Lines batched for one write are written at once past this many characters. */
const MAX_BATCH_CHARS = 64 * 1024;

/**
 * Collects the lines written during one turn of the event loop and writes them with one call after it, instead of
 * one write per line: every request logs a line, and on a pipe or a file each write is a system call that (on a
 * pipe) also wakes the reader. process.stderr is synchronous on files and pipes, so the batch still reaches the
 * destination in order, before the next turn's; at exit (even after an uncaught exception) the rest is written
 * synchronously. Only a SIGKILL can lose lines: those of the turn it interrupted.
 */
export const batchedWriter = (out: LineSink): LineSink & { flush(): void } => {
  let pending: string[] = [];
  let size = 0;
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    size = 0;
    out.write(text);
  };
  return {
    write(text: string) {
      pending.push(text);
      size += text.length;
      if (size >= MAX_BATCH_CHARS) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
};

/**
 * Turns pino's JSON lines into Dex's text lines. A bare destination rather than a stream.Writable: pino hands it one
 * line per call, and every request writes one, so it skips the stream machinery and the Buffer round trip.
 */
const textStream = (out: LineSink): DestinationStream => ({
  write(chunk: string) {
    for (const line of chunk.split('\n')) if (line !== '') out.write(textLine(line));
  },
});

/** The process's stderr, batched per turn of the event loop and flushed at exit. */
const batchedStderr = (): LineSink => {
  const writer = batchedWriter(process.stderr);
  process.once('exit', writer.flush);
  return writer;
};

/** A request's line (src/http/request-log.ts). No field can hold a secret: `url` arrives with secrets redacted. */
export interface RequestLine {
  readonly reqId: string;
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly durationMs: number;
  readonly remoteAddress: string | undefined;
}

export type RequestLineLevel = 'debug' | 'info' | 'error';

/** Writes a request line for a logger from `createLogger`; children find it through their prototype chain. */
const REQUEST_LINE_WRITER = Symbol('idport.requestLineWriter');

type RequestLineWriter = (level: RequestLineLevel, line: RequestLine, msg: string) => void;

/** A logger of any origin that may carry the writer above (fastify hands out pino children typed as its own). */
interface MaybeFastLogger {
  readonly [REQUEST_LINE_WRITER]?: RequestLineWriter;
  /** The logger's threshold (pino's name, "info"); a child may have its own. */
  readonly level: string;
  debug(object: object, msg: string): void;
  info(object: object, msg: string): void;
  error(object: object, msg: string): void;
}

/**
 * Logs a request's line through `logger`, a request's child logger (whose `reqId` binding `line.reqId` repeats).
 * Every request writes one, so for loggers from `createLogger` it is formatted here, byte for byte as pino (and, for
 * Dex's text format, `textLine`) would, without pino's serializer and redaction pass: the line has no field a
 * redaction path names, and building it directly halves its cost (test/server/log-lines pins the equality).
 */
export const logRequestLine = (
  logger: MaybeFastLogger,
  level: RequestLineLevel,
  line: RequestLine,
  msg: string,
): void => {
  const write = logger[REQUEST_LINE_WRITER];
  if (write === undefined) {
    const { reqId: _reqId, ...fields } = line;
    logger[level](fields, msg);
    return;
  }
  if ((pino.levels.values[level] ?? 0) >= (pino.levels.values[logger.level] ?? Infinity)) write(level, line, msg);
};

/**
 * The ISO form of a millisecond timestamp, kept for the millisecond it names: under load many request lines share
 * one, and formatting a Date was a measurable part of each line.
 */
const isoTimeOf = (() => {
  let at = Number.NaN;
  let text = '';
  return (ms: number): string => {
    if (ms !== at) {
      at = ms;
      text = new Date(ms).toISOString();
    }
    return text;
  };
})();

const LEVEL_LABELS: Readonly<Record<RequestLineLevel, string>> = { debug: 'DEBUG', info: 'INFO', error: 'ERROR' };

/** The request-line writer of a logger writing `format` to `out`. */
const requestLineWriter =
  (format: 'text' | 'json', out: LineSink): RequestLineWriter =>
  (level, line, msg) => {
    const time = Date.now();
    const address = line.remoteAddress;
    if (format === 'json') {
      out.write(
        `{"level":"${level}","time":${time},"reqId":${JSON.stringify(line.reqId)},"method":${JSON.stringify(line.method)},"url":${JSON.stringify(line.url)},"status":${line.status},"durationMs":${line.durationMs}${address === undefined ? '' : `,"remoteAddress":${JSON.stringify(address)}`},"msg":${JSON.stringify(msg)}}\n`,
      );
      return;
    }
    out.write(
      `time=${isoTimeOf(time)} level=${LEVEL_LABELS[level]} msg=${formatValue(msg)} reqId=${formatValue(line.reqId)} method=${formatValue(line.method)} url=${formatValue(line.url)} status=${line.status} durationMs=${line.durationMs}${address === undefined ? '' : ` remoteAddress=${formatValue(address)}`}\n`,
    );
  };

type LevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A child of `parent` with `bindings` that becomes a real pino child only when something logs through it. Fastify
 * gives every request one (`request.log`, bound to the request id); creating a pino child serializes its bindings
 * and sets up redaction, which cost a tenth of what /keys serves per second (issue 15), while most requests only
 * write their request line, which carries the id itself (logRequestLine reads the writer and the level through
 * here without creating the child).
 */
export class DeferredChildLogger {
  #child: Logger | undefined;
  readonly fatal = this.forward('fatal');
  readonly error = this.forward('error');
  readonly warn = this.forward('warn');
  readonly info = this.forward('info');
  readonly debug = this.forward('debug');
  readonly trace = this.forward('trace');
  readonly silent: LogFn = () => undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions = {},
  ) {}

  private get real(): Logger {
    this.#child ??= this.parent.child(this.bindings, this.options);
    return this.#child;
  }

  get level(): string {
    return (this.#child ?? this.parent).level;
  }

  set level(level: string) {
    this.real.level = level;
  }

  get [REQUEST_LINE_WRITER](): RequestLineWriter | undefined {
    return ((this.#child ?? this.parent) as MaybeFastLogger)[REQUEST_LINE_WRITER];
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.real.child(bindings, options);
  }

  private forward(level: LevelName): LogFn {
    // pino's LogFn is overloaded; every overload forwards its arguments unchanged.
    return ((...args: unknown[]) => (this.real[level] as (...a: unknown[]) => void)(...args)) as LogFn;
  }
}

export const createLogger = (options: {
  level: string;
  format: 'text' | 'json';
  /** Where lines go, one write per line; by default stderr, batched (`batchedWriter`). */
  destination?: NodeJS.WritableStream;
}): Logger => {
  const destination: LineSink = options.destination ?? batchedStderr();
  const logger = pino(
    {
      level: options.level,
      redact: { paths: REDACTED_PATHS, censor: '[Redacted]' },
      base: undefined,
      // "level":"info" rather than pino's 30: log pipelines (Loki, Elasticsearch, Cloud Logging) read names.
      formatters: { level: (label) => ({ level: label }) },
    },
    options.format === 'json' ? destination : textStream(destination),
  );
  Object.defineProperty(logger, REQUEST_LINE_WRITER, { value: requestLineWriter(options.format, destination) });
  return logger;
};
