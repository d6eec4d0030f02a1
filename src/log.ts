/**
 * The process logger: pino JSON by default in production tooling, or Dex's `text` format (one
 * human-readable line per entry). Secrets are redacted wherever they appear in a log object.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

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

/**
 * Turns pino's JSON lines into Dex's text lines. A bare destination rather than a stream.Writable: pino hands it one
 * line per call, and every request writes one, so it skips the stream machinery and the Buffer round trip.
 */
const textStream = (out: NodeJS.WritableStream): DestinationStream => ({
  write(chunk: string) {
    for (const line of chunk.split('\n')) if (line !== '') out.write(textLine(line));
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
