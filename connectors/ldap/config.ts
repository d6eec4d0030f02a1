/**
 * The `ldap` connector's config: Dex's keys (connector/ldap/ldap.go) with Dex's defaults, plus two
 * additions Dex does not have:
 * - `host` may be a list (or use `hosts`): tried in order, the next one when a server cannot be
 *   reached, does not answer in time, fails TLS, or answers busy/unavailable (dexidp/dex#1817).
 * - `timeout` (Go duration like "10s", or a number of milliseconds; default 10s) bounds each network
 *   step: TCP connect with the LDAPS handshake, the StartTLS exchange and handshake, each bind and
 *   search. A hung server therefore fails a login after about `timeout`; with several hung hosts,
 *   each costs up to `timeout` before the next is tried.
 * Not supported: Kerberos/SPNEGO (`kerberos.enabled: true` is a startup error).
 */
import { type Filter, FilterParser } from 'ldapts';
import { z } from 'zod';

/** How long one network step (connect + TLS handshake, StartTLS, one request) may take by default. */
export const DEFAULT_TIMEOUT_MS = 10_000;

const GO_UNITS_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration ("10s", "1m30s", "1.5s", "500ms") into milliseconds; undefined if it is not
 * one. Go's syntax because the rest of a Dex config (expiry.*) writes durations that way.
 */
export function parseGoDuration(text: string): number | undefined {
  const match = /^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)/;
  let rest = text.trim();
  if (rest === '') return undefined;
  let total = 0;
  while (rest !== '') {
    const part = match.exec(rest)?.[0];
    if (part === undefined) return undefined;
    const unit = /[a-zµμ]+$/.exec(part)?.[0] ?? '';
    total += Number(part.slice(0, -unit.length)) * (GO_UNITS_MS[unit] ?? Number.NaN);
    rest = rest.slice(part.length);
  }
  return Number.isFinite(total) ? total : undefined;
}

// A Go duration string, or a plain number of milliseconds (what a YAML author writes without thinking of Go).
const timeoutSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : parseGoDuration(value);
  if (ms === undefined || !(ms >= 1)) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be a duration of at least 1ms, such as "10s" or "500ms" (a number means milliseconds)',
    });
    return z.NEVER;
  }
  return Math.round(ms);
});

/** One directory server: host, or host:port, or [v6]:port, as Dex's `host`. */
export interface HostAddress {
  readonly hostname: string;
  /** undefined: the default for the transport (636 for LDAPS, 389 for plain and StartTLS). */
  readonly port: number | undefined;
}

/** Splits "host[:port]" the way Go's net.SplitHostPort does, also accepting a bare IPv6 address. */
export function parseHostAddress(text: string): HostAddress | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return withPort(bracketed[1] ?? '', bracketed[2]);
  const colons = text.split(':').length - 1;
  if (colons > 1) return { hostname: text, port: undefined }; // bare IPv6 such as ::1
  const [hostname = '', port] = text.split(':');
  return withPort(hostname, port);
}

function withPort(hostname: string, port: string | undefined): HostAddress | undefined {
  if (hostname === '' || /[\s/@]/.test(hostname)) return undefined;
  if (port === undefined) return { hostname, port: undefined };
  const number = Number(port);
  return /^\d+$/.test(port) && number >= 1 && number <= 65535 ? { hostname, port: number } : undefined;
}

const hostSchema = z
  .string()
  .min(1)
  .refine(
    (h) => !h.includes('://'),
    'must be host or host:port, without a scheme (use insecureNoSSL / startTLS to pick the transport)',
  )
  .refine((h) => h.includes('://') || parseHostAddress(h) !== undefined, 'must be host or host:port');

/** Parses an LDAP filter string (RFC 4515); undefined for "" (no filter) and for one that does not parse. */
export function parseFilter(text: string): Filter | undefined {
  if (text === '') return undefined;
  try {
    return FilterParser.parseString(text);
  } catch {
    return undefined;
  }
}

// Checked at startup so a typo points at the YAML line instead of failing every login.
const filterSchema = z
  .string()
  .default('')
  .refine(
    (f) => f === '' || parseFilter(f) !== undefined,
    'must be an LDAP filter such as "(objectClass=person)" (RFC 4515)',
  );

// Dex accepts one attribute or a list; an empty string means "unset" (Dex's UnmarshalJSON drops it).
const usernameSchema = z
  .union([z.string(), z.array(z.string().min(1))])
  .transform((value) => (typeof value === 'string' ? (value === '' ? [] : [value]) : value));

// Dex's parseScope: "" and "sub" search the subtree, "one" a single level.
const scopeSchema = z
  .enum(['', 'sub', 'one'])
  .default('sub')
  .transform((s) => (s === 'one' ? 'one' : 'sub'));

const userMatcherSchema = z.strictObject({
  /** Attribute of the user entry whose values are looked up in groups; `DN` means the entry's DN. */
  userAttr: z.string(),
  /** Attribute of a group that holds those values (member, memberUid, ...). */
  groupAttr: z.string(),
  /** If set, groups whose `recursionGroupAttr` holds a found group's DN are added too (nested groups). */
  recursionGroupAttr: z.string().default(''),
});

/** A user-to-group matcher, as Dex's `groupSearch.userMatchers[]`. */
export type UserMatcher = z.infer<typeof userMatcherSchema>;

/** The `ldap` connector's `config:` block. */
export const configSchema = z
  .strictObject({
    /** Dex's `host`; idport also takes a list here, tried in order when a server cannot be reached. */
    host: z.union([hostSchema, z.array(hostSchema).min(1)]).optional(),
    /** Same as a `host` list; for configs that want the plural spelled out. */
    hosts: z.array(hostSchema).min(1).optional(),
    insecureNoSSL: z.boolean().default(false),
    insecureSkipVerify: z.boolean().default(false),
    startTLS: z.boolean().default(false),
    /** Path of a PEM file with the CAs to trust (replaces the system roots, as in Dex). */
    rootCA: z.string().default(''),
    /** Base64 of PEM CA certificates (Dex's []byte in JSON); wins over `rootCA`. */
    rootCAData: z.string().default(''),
    clientCert: z.string().default(''),
    clientKey: z.string().default(''),
    /** Service account for searches; both empty means an anonymous search. */
    bindDN: z.string().default(''),
    bindPW: z.string().default(''),
    usernamePrompt: z.string().default(''),
    /** Dex's SPNEGO settings: only a disabled block is accepted, so a config that relies on it fails loudly. */
    kerberos: z
      .looseObject({ enabled: z.boolean().optional() })
      .optional()
      .refine(
        (k) => k?.enabled !== true,
        'Kerberos (SPNEGO) login is not supported by idport yet; remove the block or set enabled: false',
      ),
    userSearch: z.strictObject({
      baseDN: z.string().min(1, 'userSearch.baseDN is required'),
      filter: filterSchema,
      username: usernameSchema.refine((u) => u.length > 0, 'userSearch.username is required'),
      scope: scopeSchema,
      // Dex's comments document these defaults; its code leaves them empty and then fails every login.
      idAttr: z.string().default('uid'),
      emailAttr: z.string().default('mail'),
      nameAttr: z.string().default(''),
      preferredUsernameAttr: z.string().default(''),
      emailSuffix: z.string().default(''),
    }),
    groupSearch: z
      .strictObject({
        baseDN: z.string().default(''),
        filter: filterSchema,
        scope: scopeSchema,
        /** Deprecated in Dex in favour of userMatchers; still honoured when userMatchers is empty. */
        userAttr: z.string().default(''),
        groupAttr: z.string().default(''),
        recursionGroupAttr: z.string().default(''),
        userMatchers: z.array(userMatcherSchema).default([]),
        nameAttr: z.string().default(''),
      })
      .prefault({}),
    /** idport's addition: bound on each network step, a Go duration ("10s") or milliseconds. */
    timeout: timeoutSchema.default(DEFAULT_TIMEOUT_MS),
  })
  .superRefine((c, ctx) => {
    if (c.host === undefined && c.hosts === undefined)
      ctx.addIssue({ code: 'custom', path: ['host'], message: 'host is required' });
    if (c.host !== undefined && c.hosts !== undefined)
      ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'set host or hosts, not both' });
    // Dex silently ignores a lone clientCert or clientKey; here that is a mistake worth hearing about.
    if ((c.clientCert === '') !== (c.clientKey === '')) {
      ctx.addIssue({
        code: 'custom',
        path: [c.clientCert === '' ? 'clientCert' : 'clientKey'],
        message: 'clientCert and clientKey must be set together',
      });
    }
    const g = c.groupSearch;
    if (c.bindDN !== '' && c.bindPW === '') {
      // An empty password is an unauthenticated bind (RFC 4513 §5.1.2); go-ldap refuses it, so Dex never worked this way.
      ctx.addIssue({
        code: 'custom',
        path: ['bindPW'],
        message: 'bindPW is required with bindDN (leave both empty for an anonymous search)',
      });
    }
    if (g.baseDN !== '' && g.nameAttr === '') {
      // Dex fails every groups login with "missing required attribute" instead; better at startup.
      ctx.addIssue({
        code: 'custom',
        path: ['groupSearch', 'nameAttr'],
        message: 'groupSearch.nameAttr is required when groupSearch.baseDN is set',
      });
    }
  });

/** The parsed `ldap` connector config. */
export type LdapConfig = z.infer<typeof configSchema>;

/** The servers to try, in order, whichever key listed them. */
export function configuredHosts(c: LdapConfig): HostAddress[] {
  const list = c.hosts ?? (typeof c.host === 'string' ? [c.host] : (c.host ?? []));
  // The schema refined every entry, so parseHostAddress cannot fail here.
  return list.map((h) => parseHostAddress(h) ?? { hostname: h, port: undefined });
}

/**
 * The user-to-group matchers in effect, as Dex's userMatchers(): the list when its first entry is
 * usable, else the deprecated single userAttr/groupAttr pair. Entries missing either side are dropped
 * (Dex would search for them and find nothing).
 */
export function effectiveUserMatchers(c: LdapConfig): { matchers: UserMatcher[]; isDeprecated: boolean } {
  const g = c.groupSearch;
  const first = g.userMatchers[0];
  if (first !== undefined && first.userAttr !== '') {
    return { matchers: g.userMatchers.filter((m) => m.userAttr !== '' && m.groupAttr !== ''), isDeprecated: false };
  }
  const deprecated = { userAttr: g.userAttr, groupAttr: g.groupAttr, recursionGroupAttr: g.recursionGroupAttr };
  return {
    matchers: deprecated.userAttr !== '' && deprecated.groupAttr !== '' ? [deprecated] : [],
    isDeprecated: g.userAttr !== '' || g.groupAttr !== '',
  };
}
