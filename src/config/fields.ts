/**
 * Field-level building blocks for the config schema: YAML scalars read the way Dex reads them, Go
 * durations, addresses, URLs, bcrypt hashes, and the helper that lets cross-field checks run even when
 * unrelated fields failed (so one load reports every problem).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { bcryptCost, MAX_BCRYPT_COST, MIN_BCRYPT_COST } from '../../connectors/local/local.js';
import { parseDuration } from './duration.js';

// Dex reads YAML through ghodss/yaml, which turns a number or boolean into its text when the Go field is
// a string: `tlsMinVersion: 1.2` and `secret: 12345` are strings there, so they are here too.
const scalarToText = (value: unknown): unknown =>
  typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;

/** A string field that, like Dex, also takes a YAML number or boolean as its text; `inner` refines the string. */
export function text(): z.ZodPreprocess<z.ZodString>;
export function text<T extends z.ZodType>(inner: T): z.ZodPreprocess<T>;
export function text(inner: z.ZodType = z.string()): z.ZodPreprocess {
  return z.preprocess(scalarToText, inner);
}

/** A string field that must not be empty (Go treats "" as unset, so an empty value is a mistake). */
export const nonEmptyText = () => text(z.string().min(1));

/** A key Dex has and idport does not support yet: present is an error naming it (ARCHITECTURE.md decision 1). */
export const notSupported = () => z.never({ error: 'not supported by idport yet' }).optional();

/** A non-negative whole number; a string of digits is accepted too, since `$VAR` expansion yields strings. */
export function wholeNumber(options: { min?: number; max?: number } = {}) {
  return z.preprocess(
    (value) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value),
    z
      .int()
      .min(options.min ?? 0)
      .max(options.max ?? Number.MAX_SAFE_INTEGER),
  );
}

/** A Go duration ("24h", "90m") in milliseconds; `positive` rejects "0" where zero makes no sense. */
export function duration(options: { positive?: boolean } = {}) {
  return text().transform((value, ctx): number => {
    let ms: number;
    try {
      ms = parseDuration(value);
    } catch (err: unknown) {
      const negative = err instanceof RangeError && value.startsWith('-');
      ctx.addIssue({
        code: 'custom',
        input: value,
        message: negative
          ? `must not be negative, got ${JSON.stringify(value)}`
          : err instanceof RangeError
            ? `is too long (${err.message})`
            : `expected a duration like "24h" or "90m", got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    if (options.positive === true && ms === 0) {
      ctx.addIssue({ code: 'custom', input: value, message: 'must be longer than 0' });
      return z.NEVER;
    }
    return ms;
  });
}

/** An optional Go duration where "0" means no limit, as Dex's refresh-token policy reads it. */
export const limitDuration = () =>
  duration()
    .transform((ms) => (ms === 0 ? undefined : ms))
    .optional();

const isHttpUrl = (value: string): boolean => {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'http:' || protocol === 'https:';
};

/** An absolute http(s) URL; `example` is shown in the error. */
export const httpUrl = (example: string) =>
  text(z.string().refine(isHttpUrl, { error: `expected an http(s) URL like ${JSON.stringify(example)}` }));

/**
 * A redirect URI as Dex accepts it: an absolute URL (including custom schemes for native apps, RFC 8252
 * §7.1) or an issuer-relative path such as Dex's "/device/callback".
 */
export const redirectUri = () =>
  text(
    z
      .string()
      .refine((value) => value.startsWith('/') || URL.canParse(value), {
        error: 'expected a URL like "https://app.example.com/callback"',
      })
      // "//host/path" would send the browser to another host while looking like a path.
      .refine((value) => !value.startsWith('//'), {
        error: 'a relative redirect URI is a path starting with one "/", like "/login/oidc"',
      }),
  );

/** A list of redirect URIs, with the message a reader expects when it is not a list. */
export const redirectUriList = () =>
  z.array(redirectUri(), {
    error: (issue) =>
      issue.code === 'invalid_type' && issue.input !== undefined ? 'expected a list of URLs' : undefined,
  });

// "host:port", ":port" or "[::1]:port", what Go's net.Listen takes.
const ADDRESS = /^(\[[0-9A-Fa-f:.%\w]+\]|[^\s:[\]]*):(\d{1,5})$/;

/** A listen address as Go's net.Listen takes it ("127.0.0.1:5556", ":5556", "[::1]:5556"). */
export const listenAddress = () =>
  text(
    z.string().refine((value) => ADDRESS.test(value) && Number(ADDRESS.exec(value)?.[2]) <= 65535, {
      error: 'expected an address like "127.0.0.1:5556"',
    }),
  );

// RFC 9110 §5.1: a header name is a token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** An HTTP header name ("X-Forwarded-For"). */
export const headerName = () =>
  text(z.string().regex(TOKEN, { error: 'expected an HTTP header name like "X-Forwarded-For"' }));

/** A CIDR range with an explicit prefix length, as Go's netip.ParsePrefix requires. */
export const cidr = () =>
  text(
    z.string().refine(
      (value) => {
        const [ip = '', bits = '', extra] = value.split('/');
        const version = isIP(ip);
        return (
          extra === undefined && version !== 0 && /^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128)
        );
      },
      { error: 'expected a CIDR range like "10.0.0.0/8"' },
    ),
  );

/**
 * Checks a static password hash and returns it in bcrypt form: a bcrypt string, or (Dex's backwards
 * compatibility) the standard base64 encoding of one. Returns an error message instead when it is neither.
 */
export function parseBcryptHash(value: string): { hash: string } | { error: string } {
  // The hash format and the cost bounds are the local connector's, which checks the same at login.
  let hash = value;
  if (bcryptCost(hash) === undefined) {
    const decoded = Buffer.from(value, 'base64');
    if (decoded.toString('base64') === value) hash = decoded.toString('latin1');
  }
  const cost = bcryptCost(hash);
  if (cost === undefined)
    return {
      error: value.startsWith('$2')
        ? 'expected a bcrypt hash like "$2a$10$…"'
        : 'expected a bcrypt hash like "$2a$10$…", not a plain password: run `idport hash-password` and put its output here',
    };
  if (cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST)
    return { error: `bcrypt cost must be between ${MIN_BCRYPT_COST} and ${MAX_BCRYPT_COST}, got ${cost}` };
  return { hash };
}

interface IssueLike {
  readonly path?: readonly PropertyKey[] | undefined;
  readonly code?: string | undefined;
}

const isMapping = (value: unknown): boolean => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Options for `.superRefine` that run a cross-field check even when other fields failed, so one load
 * reports every problem. The check still needs the container itself to be a mapping (or list).
 * Inside it, read only values that `parsedCleanly` vouches for: the others still hold raw YAML.
 */
export const evenWithOtherErrors = (kind: 'mapping' | 'list') => ({
  when: (payload: { readonly value: unknown; readonly issues: readonly IssueLike[] }): boolean =>
    (kind === 'list' ? Array.isArray(payload.value) : isMapping(payload.value)) &&
    !payload.issues.some((issue) => (issue.path ?? []).length === 0 && issue.code !== 'unrecognized_keys'),
});

/** Whether the value at `path` (relative to the value being checked) parsed without issues. */
export function parsedCleanly(issues: readonly IssueLike[], ...path: PropertyKey[]): boolean {
  return !issues.some((issue) => {
    const at = issue.path ?? [];
    const shared = Math.min(at.length, path.length);
    for (let i = 0; i < shared; i++) if (at[i] !== path[i]) return false;
    // An issue at the value or below it taints it; one at an ancestor only if it is not about extra keys.
    return at.length >= path.length || issue.code !== 'unrecognized_keys';
  });
}

/**
 * A list check that reports a repeated key (after `normalize`) at the later item, naming the earlier one.
 * Empty keys are not compared (Go's zero value: "not set").
 */
export interface UniqueKey<T> {
  /** The list's YAML name, e.g. `staticClients`. */
  readonly list: string;
  /** The key's field name in each item, e.g. `id`. */
  readonly field: string;
  /** What the message calls the key, e.g. `client id`. */
  readonly what: string;
  readonly keyOf: (item: T) => unknown;
  /** The comparison form of a key (emails compare case-insensitively). */
  readonly normalize?: (key: string) => string;
}

export const noDuplicates =
  <T>({ list, field, what, keyOf, normalize = (key: string) => key }: UniqueKey<T>) =>
  (items: T[], ctx: z.RefinementCtx<T[]>): void => {
    const seen = new Map<string, number>();
    items.forEach((item, index) => {
      const key = parsedCleanly(ctx.issues, index, field) ? keyOf(item) : undefined;
      if (typeof key !== 'string' || key === '') return;
      const first = seen.get(normalize(key));
      if (first === undefined) seen.set(normalize(key), index);
      else
        ctx.addIssue({
          code: 'custom',
          path: [index, field],
          input: key,
          message: `duplicate ${what} ${JSON.stringify(key)} (also ${list}[${first}])`,
        });
    });
  };
