/**
 * The process logger: pino JSON by default in production tooling, or Dex's `text` format (one
 * human-readable line per entry). Secrets are redacted wherever they appear in a log object.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

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

/** Turns pino's JSON lines into `time=… level=… msg=… key=value` lines, as Dex's text logger prints. */
const textStream = (out: NodeJS.WritableStream): Writable =>
  new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          const { time, level, msg, pid: _pid, hostname: _hostname, ...rest } = entry;
          const parts = [
            `time=${new Date(Number(time)).toISOString()}`,
            `level=${LEVEL_NAMES[Number(level)] ?? String(level).toUpperCase()}`,
            `msg=${formatValue(msg ?? '')}`,
          ];
          for (const [key, value] of Object.entries(rest)) parts.push(`${key}=${formatValue(value)}`);
          out.write(`${parts.join(' ')}\n`);
        } catch {
          out.write(`${line}\n`);
        }
      }
      callback();
    },
  });

export const createLogger = (options: {
  level: string;
  format: 'text' | 'json';
  destination?: NodeJS.WritableStream;
}): Logger => {
  const destination = options.destination ?? process.stderr;
  return pino(
    {
      level: options.level,
      redact: { paths: REDACTED_PATHS, censor: '[Redacted]' },
      base: undefined,
      // "level":"info" rather than pino's 30: log pipelines (Loki, Elasticsearch, Cloud Logging) read names.
      formatters: { level: (label) => ({ level: label }) },
    },
    options.format === 'json' ? destination : textStream(destination),
  );
};
