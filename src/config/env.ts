/**
 * Environment variables in config.yaml, exactly where and how Dex uses them: `$VAR` / `${VAR}` expansion
 * (Go's os.ExpandEnv) inside `storage.config`, `connectors[].config` and `signer.config` only, switched
 * off by DEX_EXPAND_ENV=false (for LDAP passwords that contain `$`).
 */

/** The process environment as the loader sees it; injected so tests do not touch `process.env`. */
export type Env = Readonly<Record<string, string | undefined>>;

// Go's strconv.ParseBool spellings.
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** A Dex feature flag (pkg/featureflags): a Go bool (strconv.ParseBool) in `DEX_<NAME>`; unset or unparsable: the default. */
export function isFeatureEnabled(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name] ?? '';
  if (TRUE.has(raw)) return true;
  if (FALSE.has(raw)) return false;
  return fallback;
}

/** Dex's `DEX_EXPAND_ENV` feature flag: on unless set to a Go "false"; an unparsable value keeps the default. */
export function isEnvExpansionEnabled(env: Env): boolean {
  const raw = env['DEX_EXPAND_ENV'] ?? '';
  if (TRUE.has(raw)) return true;
  if (FALSE.has(raw)) return false;
  return true;
}

const isShellSpecial = (c: string | undefined): boolean => c !== undefined && '*#$@!?-0123456789'.includes(c);
const isNameChar = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z0-9_]$/.test(c);

/** Go's os.getShellName: the variable name after a `$` and how many characters it spans. */
function shellName(s: string): { name: string; width: number } {
  if (s[0] === '{') {
    if (s.length > 2 && isShellSpecial(s[1]) && s[2] === '}') return { name: s.slice(1, 2), width: 3 };
    const close = s.indexOf('}', 1);
    if (close === 1) return { name: '', width: 2 }; // "${}" is bad syntax; Go drops it
    if (close === -1) return { name: '', width: 1 }; // "${" without "}"; Go drops "${"
    return { name: s.slice(1, close), width: close + 1 };
  }
  if (isShellSpecial(s[0])) return { name: s.slice(0, 1), width: 1 };
  let i = 0;
  while (isNameChar(s[i])) i++;
  return { name: s.slice(0, i), width: i };
}

/**
 * Go's os.ExpandEnv: `$VAR` and `${VAR}` become the variable's value, unset ones become "", `$$` is the
 * (unset) special variable `$`, and a `$` not followed by a name stays as it is.
 */
export function expandEnv(text: string, env: Env): string {
  let out: string | undefined; // stays undefined while there is nothing to expand, as in Go
  let copiedUpTo = 0;
  for (let j = 0; j < text.length; j++) {
    if (text[j] !== '$' || j + 1 >= text.length) continue;
    out = (out ?? '') + text.slice(copiedUpTo, j);
    const { name, width } = shellName(text.slice(j + 1));
    if (name === '' && width > 0) {
      // Invalid syntax: Go eats these characters.
    } else if (name === '') {
      out += '$';
    } else {
      out += env[name] ?? '';
    }
    j += width;
    copiedUpTo = j + 1;
  }
  return out === undefined ? text : out + text.slice(copiedUpTo);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/**
 * Dex's expandEnvInMap on a copy: strings in the mapping and its nested mappings are expanded, and so are
 * strings and mappings directly inside lists; lists nested in lists are left alone, as in Dex.
 */
export function expandEnvInMapping(value: unknown, env: Env): unknown {
  if (!isPlainObject(value)) return value; // Dex only expands a config that is a mapping
  const expandItem = (item: unknown): unknown =>
    typeof item === 'string' ? expandEnv(item, env) : isPlainObject(item) ? expandEnvInMapping(item, env) : item;
  // fromEntries defines properties, so a YAML key named "__proto__" stays a plain key.
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [key, Array.isArray(v) ? v.map(expandItem) : expandItem(v)]),
  );
}

/** A `$VAR` reference to a variable that is not set (Dex expands it to "" without a word). */
export interface UnsetReference {
  /** Path of the string inside the expanded mapping. */
  readonly path: readonly PropertyKey[];
  readonly name: string;
}

/** The variables `expandEnv` would replace with "" because they are not set. */
const unsetNames = (text: string, env: Env): string[] => {
  const names: string[] = [];
  for (let j = 0; j < text.length; j++) {
    if (text[j] !== '$' || j + 1 >= text.length) continue;
    const { name, width } = shellName(text.slice(j + 1));
    if (name !== '' && name !== '$' && env[name] === undefined) names.push(name);
    j += width;
  }
  return names;
};

/** Every unset variable `expandEnvInMapping` would meet in `value`, where it would meet it. */
export function unsetReferences(value: unknown, env: Env, path: readonly PropertyKey[] = []): UnsetReference[] {
  if (!isPlainObject(value) || !isEnvExpansionEnabled(env)) return [];
  const found: UnsetReference[] = [];
  const visit = (item: unknown, at: readonly PropertyKey[]): void => {
    if (typeof item === 'string') for (const name of unsetNames(item, env)) found.push({ path: at, name });
    else if (isPlainObject(item)) found.push(...unsetReferences(item, env, at));
  };
  for (const [key, v] of Object.entries(value)) {
    if (Array.isArray(v)) v.forEach((item: unknown, index) => visit(item, [...path, key, index]));
    else visit(v, [...path, key]);
  }
  return found;
}
