/**
 * The `ldap` connector: a password connector with refresh over ldapts, accepting Dex's LDAP
 * connector config (connector/ldap/ldap.go) unchanged. Login searches the user with the service
 * account, requires exactly one match, binds as that DN with the given password, and (only for the
 * `groups` scope) reads groups, nested ones too. Refresh searches the user again and fails when the
 * entry is gone, or its DN or id changed.
 *
 * Decisions where Dex leaves room:
 * - Several entries matching one username is a directory or config problem, not a wrong password:
 *   it is logged and the login throws ConnectorError (Dex also returns an error here).
 * - The username is escaped once (Dex escapes it twice, so users with `(`, `*` or `\` cannot log in there):
 *   filters are ldapts filter objects, whose values travel as BER octets and are never parsed as syntax.
 * - A backend failure (no server usable, timeout, unexpected LDAP error) throws ConnectorError with
 *   a message safe to show; details are in the log. Passwords are never logged.
 */
import { AndFilter, type Entry, EqualityFilter, type Filter, NoSuchObjectError, OrFilter } from 'ldapts';
import type { Logger } from 'pino';
import { z } from 'zod';

import {
  type Connector,
  ConnectorError,
  type ConnectorDeps,
  type ConnectorModule,
  type Identity,
  type PasswordConnector,
  type Refreshable,
  type Scopes,
} from '../connector.js';
import {
  configSchema,
  configuredHosts,
  effectiveUserMatchers,
  type LdapConfig,
  parseFilter,
  type UserMatcher,
} from './config.js';
import {
  connectionSettings,
  type ConnectionSettings,
  describeFailure,
  openSession,
  type Session,
  UNAVAILABLE_MESSAGE,
} from './connection.js';

export { configSchema, type LdapConfig } from './config.js';

// What Dex keeps for refresh: the username typed at login and the entry's DN. Same JSON shape as Dex's
// refreshData, so refresh tokens carried over from Dex keep working (Dex reads only these two fields).
const refreshDataSchema = z.object({ username: z.string(), entry: z.object({ DN: z.string() }) });

/** Opens an `ldap` connector; reads CA and client certificate files now, so a bad path fails at startup. */
export async function open(
  id: string,
  config: LdapConfig,
  deps: ConnectorDeps,
): Promise<PasswordConnector & Refreshable & Connector> {
  const log = deps.log.child({ connector: id });
  const settings = await connectionSettings(config, configuredHosts(config));
  const { matchers, isDeprecated } = effectiveUserMatchers(config);
  if (isDeprecated)
    log.warn({ deprecated: true }, 'use "groupSearch.userMatchers" instead of "groupSearch.userAttr/groupAttr"');
  if (config.insecureNoSSL && config.startTLS)
    log.warn(
      'insecureNoSSL and startTLS are both set; as in Dex, insecureNoSSL wins and the connection is not encrypted',
    );
  if (config.insecureSkipVerify) log.warn("insecureSkipVerify is set: the directory's TLS certificate is not checked");
  const directory = new Directory(config, settings, matchers, log);
  return {
    kind: 'password',
    prompt: () => (config.usernamePrompt !== '' ? config.usernamePrompt : 'Username'),
    login: (scopes, username, password) => directory.login(scopes, username, password),
    refresh: (scopes, identity) => directory.refresh(scopes, identity),
    close: () => directory.close(),
  };
}

/** The `ldap` connector type, for connectors/registry.ts. */
export const ldap = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

class Directory {
  private readonly config: LdapConfig;
  private readonly settings: ConnectionSettings;
  private readonly matchers: readonly UserMatcher[];
  private readonly log: Logger;
  private readonly userFilter: Filter | undefined;
  private readonly groupFilter: Filter | undefined;
  private readonly userAttributes: string[];
  private readonly sessions = new Set<Session>();

  constructor(config: LdapConfig, settings: ConnectionSettings, matchers: readonly UserMatcher[], log: Logger) {
    this.config = config;
    this.settings = settings;
    this.matchers = matchers;
    this.log = log;
    // The schema checked that both parse; a fresh object per connector, since ldapts filters are mutable.
    this.userFilter = parseFilter(config.userSearch.filter);
    this.groupFilter = parseFilter(config.groupSearch.filter);
    const u = config.userSearch;
    this.userAttributes = requestable([
      u.idAttr,
      u.emailAttr,
      ...u.username,
      ...matchers.map((m) => m.userAttr),
      u.nameAttr,
      u.preferredUsernameAttr,
    ]);
  }

  async login(scopes: Scopes, username: string, password: string): Promise<Identity | undefined> {
    // An empty password would be an unauthenticated bind, which LDAP servers accept as success (RFC 4513 §5.1.2).
    if (password === '' || username === '') return undefined;
    return this.withSession('login', async (session) => {
      const user = await this.findUser(session, username);
      if (user === undefined) return undefined;
      if (!(await session.checkPassword(user.dn, password))) {
        this.log.info({ dn: user.dn }, 'invalid password');
        return undefined;
      }
      // Back to the service account: group searches run with its rights, not the user's.
      await session.bindService();
      const identity = this.identityFromEntry(user);
      const groups = scopes.groups ? await this.findGroups(session, user) : [];
      const connectorData = new TextEncoder().encode(JSON.stringify({ username, entry: { DN: user.dn } }));
      this.log.info({ dn: user.dn, userId: identity.userId }, 'login succeeded');
      return { ...identity, groups, connectorData };
    });
  }

  async refresh(scopes: Scopes, identity: Identity): Promise<Identity> {
    const data = decodeRefreshData(identity.connectorData);
    if (data === undefined) throw new ConnectorError('ldap: refresh without valid connector data');
    return this.withSession('refresh', async (session) => {
      const user = await this.findUser(session, data.username);
      if (user === undefined) {
        this.log.info({ username: data.username, dn: data.entry.DN }, 'refresh refused: user no longer found');
        throw new ConnectorError(`ldap: refresh: user ${JSON.stringify(data.username)} not found`);
      }
      if (user.dn !== data.entry.DN) {
        this.log.info({ username: data.username, dn: data.entry.DN, newDN: user.dn }, 'refresh refused: DN changed');
        throw new ConnectorError(
          `ldap: refresh: username ${JSON.stringify(data.username)} expected DN ${JSON.stringify(data.entry.DN)}, got ${JSON.stringify(user.dn)}`,
        );
      }
      const fresh = this.identityFromEntry(user);
      // Not in Dex: an entry deleted and re-created under the same DN is a different person.
      if (fresh.userId !== identity.userId) {
        throw new ConnectorError(
          `ldap: refresh: ${user.dn} now has id ${JSON.stringify(fresh.userId)}, not ${JSON.stringify(identity.userId)}`,
        );
      }
      const groups = scopes.groups ? await this.findGroups(session, user) : [];
      return { ...fresh, groups, connectorData: identity.connectorData };
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.sessions].map((session) => session.close()));
  }

  // Opens a session (with failover), runs `work`, always closes; turns anything unexpected into ConnectorError.
  private async withSession<T>(operation: string, work: (session: Session) => Promise<T>): Promise<T> {
    const session = await openSession(this.settings, this.log);
    this.sessions.add(session);
    try {
      return await work(session);
    } catch (err: unknown) {
      if (err instanceof ConnectorError) throw err;
      const reason = describeFailure(err, session.server, this.settings.timeoutMs);
      this.log.error({ server: session.server, reason }, `LDAP ${operation} failed`);
      throw new ConnectorError(`ldap: ${operation} at ${session.server} failed: ${reason}`, UNAVAILABLE_MESSAGE, {
        cause: err,
        temporary: true,
      });
    } finally {
      this.sessions.delete(session);
      await session.close();
    }
  }

  // Exactly one entry, or undefined for none; several is an error (see the header).
  private async findUser(session: Session, username: string): Promise<Entry | undefined> {
    const u = this.config.userSearch;
    const byName = u.username.map((attribute) => new EqualityFilter({ attribute, value: username }));
    let filter: Filter = byName.length === 1 && byName[0] !== undefined ? byName[0] : new OrFilter({ filters: byName });
    if (this.userFilter !== undefined) filter = new AndFilter({ filters: [this.userFilter, filter] });
    // sizeLimit 2: enough to tell one match from several without reading a whole directory.
    const entries = await session.search({
      baseDN: u.baseDN,
      scope: u.scope,
      filter,
      attributes: this.userAttributes,
      sizeLimit: 2,
    });
    this.log.debug(
      { baseDN: u.baseDN, scope: u.scope, filter: filter.toString(), matches: entries.length },
      'user search',
    );
    const [user, ...others] = entries;
    if (user === undefined) {
      this.log.info({ filter: filter.toString() }, 'no user matched');
      return undefined;
    }
    if (others.length > 0) {
      this.log.error(
        { filter: filter.toString(), dns: entries.map((e) => e.dn) },
        'several entries match one username; login refused',
      );
      throw new ConnectorError(`ldap: filter ${filter.toString()} matched more than one entry`);
    }
    return user;
  }

  private identityFromEntry(user: Entry): Omit<Identity, 'groups'> {
    const u = this.config.userSearch;
    const missing: string[] = [];
    const required = (attribute: string): string => {
      const value = firstValue(user, attribute);
      if (value === undefined) missing.push(attribute);
      return value ?? '';
    };
    const userId = required(u.idAttr);
    const username = u.nameAttr !== '' ? required(u.nameAttr) : '';
    const preferredUsername = u.preferredUsernameAttr !== '' ? required(u.preferredUsernameAttr) : undefined;
    // Dex builds this from the name (nameAttr); without one it would write "@suffix", so fall back to the id.
    const email =
      u.emailSuffix !== '' ? `${username !== '' ? username : userId}@${u.emailSuffix}` : required(u.emailAttr);
    if (missing.length > 0) {
      this.log.error({ dn: user.dn, missing }, 'user entry lacks required attributes');
      throw new ConnectorError(`ldap: entry ${user.dn} is missing required attribute(s) ${missing.join(', ')}`);
    }
    // Dex marks LDAP emails verified: the directory is the authority for them.
    return { userId, username, preferredUsername, email, emailVerified: true };
  }

  // Group names for every matcher, following recursionGroupAttr upwards; each group is visited once,
  // so membership cycles end. Names are de-duplicated, first occurrence kept.
  private async findGroups(session: Session, user: Entry): Promise<string[]> {
    const g = this.config.groupSearch;
    if (g.baseDN === '') return [];
    const names: string[] = [];
    for (const matcher of this.matchers) {
      const visited = new Set<string>();
      let level: Entry[] = [];
      for (const value of attributeValues(user, matcher.userAttr))
        level.push(...(await this.queryGroups(session, matcher.groupAttr, value)));
      while (level.length > 0) {
        const next: Entry[] = [];
        for (const group of level) {
          const key = group.dn.toLowerCase();
          if (visited.has(key)) continue;
          visited.add(key);
          const name = firstValue(group, g.nameAttr);
          if (name === undefined) {
            this.log.error({ dn: group.dn, nameAttr: g.nameAttr }, 'group entry lacks its name attribute');
            throw new ConnectorError(`ldap: group ${group.dn} is missing required attribute ${g.nameAttr}`);
          }
          if (!names.includes(name)) names.push(name);
          if (matcher.recursionGroupAttr !== '')
            next.push(...(await this.queryGroups(session, matcher.recursionGroupAttr, group.dn)));
        }
        level = next;
      }
    }
    return names;
  }

  private async queryGroups(session: Session, attribute: string, value: string): Promise<Entry[]> {
    const g = this.config.groupSearch;
    const match = new EqualityFilter({ attribute, value });
    const filter = this.groupFilter !== undefined ? new AndFilter({ filters: [this.groupFilter, match] }) : match;
    try {
      const groups = await session.search({
        baseDN: g.baseDN,
        scope: g.scope,
        filter,
        attributes: requestable([g.nameAttr]),
      });
      this.log.debug({ baseDN: g.baseDN, filter: filter.toString(), matches: groups.length }, 'group search');
      return groups;
    } catch (err: unknown) {
      // As Dex: a missing group base means no groups, not a failed login.
      if (err instanceof NoSuchObjectError) return [];
      throw err;
    }
  }
}

// Attribute names to ask the server for: no blanks, no duplicates, and not the DN pseudo-attribute
// (the DN comes with every entry). "1.1" asks for no attributes at all (RFC 4511 §4.5.1.8).
function requestable(names: readonly string[]): string[] {
  const seen = new Set<string>();
  const list = names.filter((n) => {
    const key = n.toLowerCase();
    if (n === '' || key === 'dn' || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return list.length > 0 ? list : ['1.1'];
}

/** Values of `name` on an entry (names compare case-insensitively); `DN` gives the entry's DN when no such attribute exists. */
function attributeValues(entry: Entry, name: string): string[] {
  const wanted = name.toLowerCase();
  for (const [key, raw] of Object.entries(entry)) {
    if (key === 'dn' || key.toLowerCase() !== wanted) continue;
    const values = (Array.isArray(raw) ? raw : [raw]).map((v) => (typeof v === 'string' ? v : v.toString('utf8')));
    if (values.length > 0) return values;
  }
  return wanted === 'dn' ? [entry.dn] : [];
}

function firstValue(entry: Entry, name: string): string | undefined {
  const [value] = attributeValues(entry, name);
  return value === '' ? undefined : value;
}

function decodeRefreshData(data: Uint8Array | undefined): z.infer<typeof refreshDataSchema> | undefined {
  if (data === undefined) return undefined;
  try {
    const parsed = refreshDataSchema.safeParse(JSON.parse(new TextDecoder().decode(data)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
