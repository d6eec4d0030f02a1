/**
 * Loads config.yaml: YAML read the way Dex reads it (YAML 1.1 scalars), validated by the one schema,
 * and every problem reported at once as `FILE:LINE:COL PATH: message`, pointing into the YAML.
 */
import { readFile } from 'node:fs/promises';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Tags } from 'yaml';
import type { z } from 'zod';
import { unsetReferences, type Env } from './env.js';
import { applyOverrides, type ServeOverrides } from './flags.js';
import { canonicalKeys, emptyKeyReport, type KeyReport } from './keys.js';
import { humanError } from './messages.js';
import { hasTemplateActions, renderTemplate, TemplateError } from './template.js';
import { createConfigSchema, type Config } from './schema.js';
import type { ConfigWarning } from './warnings.js';

export { parseDuration } from './duration.js';
export type { Config } from './schema.js';

/** Options for loading: the environment (`*Env`, `$VAR`) and the connector registry's config schemas. */
export interface LoadConfigOptions {
  readonly env: Env;
  readonly connectorSchemas: Readonly<Record<string, z.ZodType>>;
  /** `serve`'s address flags (Dex's), applied before validation and replacing the config's values. */
  readonly overrides?: ServeOverrides | undefined;
  /** `check-config --strict`: an unknown key is an error instead of a warning. */
  readonly strict?: boolean | undefined;
}

/** A loaded config and what the loader noticed on the way (unknown keys), each with its place in the YAML. */
export interface LoadedConfig {
  readonly config: Config;
  readonly warnings: readonly ConfigWarning[];
}

/** A config that cannot be used; `issues` lists every problem, one `FILE:LINE:COL PATH: message` each. */
export class ConfigError extends Error {
  readonly issues: readonly string[];
  constructor(issues: readonly string[], options?: { cause?: unknown }) {
    super(
      `invalid configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n  ${issues.join('\n  ')}`,
      options,
    );
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** `staticClients[0].redirectURIs`, `web.headers["X-Frame-Options"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) => {
      if (typeof key === 'number') return `[${key}]`;
      const name = String(key);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `[${JSON.stringify(name)}]`;
      return i === 0 ? name : `.${name}`;
    })
    .join('');
}

// Dex parses with go-yaml v2 (YAML 1.1: yes/no/on/off are booleans, << merges), but go-yaml does not turn
// 2001-12-14 into a date or 1:30 into 90, so those stay strings here too.
const DROPPED_TAGS = new Set(['timestamp', 'intTime', 'floatTime']);
const withoutDatesAndSexagesimals = (tags: Tags): Tags =>
  tags.filter((tag) =>
    typeof tag === 'string'
      ? !DROPPED_TAGS.has(tag)
      : tag.tag !== 'tag:yaml.org,2002:timestamp' && !('format' in tag && tag.format === 'TIME'),
  );

/** Thrown by `withoutNulls` for an anchor used inside itself, which has no finite value. */
class RecursiveAliasError extends Error {}

/** YAML maps as JS values with empty (`key:`) entries dropped: Go leaves such fields unset, so do we. */
function withoutNulls(value: unknown, ancestors: readonly object[] = []): unknown {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value;
  if (ancestors.includes(value)) throw new RecursiveAliasError();
  const inside = [...ancestors, value];
  if (Array.isArray(value)) return value.map((item: unknown) => withoutNulls(item, inside));
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => [k, withoutNulls(v, inside)]),
  );
}

interface Position {
  readonly line: number;
  readonly col: number;
}

/**
 * Where `path` is in the YAML: the key of a mapping entry, the item of a list, or (for something missing)
 * the deepest parent that exists.
 */
function locate(doc: Document, lineCounter: LineCounter, path: readonly PropertyKey[]): Position | undefined {
  const startOf = (node: unknown): number | undefined =>
    typeof node === 'object' &&
    node !== null &&
    'range' in node &&
    Array.isArray(node.range) &&
    typeof node.range[0] === 'number'
      ? node.range[0]
      : undefined;
  let node: unknown = doc.contents;
  let offset = startOf(node);
  for (const key of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      // Keys match fields case-insensitively (keys.ts), so an issue's path may be spelled otherwise than the YAML.
      const named = (item: { key: unknown }, same: (a: string, b: string) => boolean): boolean =>
        isScalar(item.key) && same(String(item.key.value), String(key));
      const pair =
        node.items.find((item) => named(item, (a, b) => a === b)) ??
        node.items.findLast((item) => named(item, (a, b) => a.toLowerCase() === b.toLowerCase()));
      if (pair === undefined) break;
      offset = startOf(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number' && node.items[key] !== undefined) {
      node = node.items[key];
      offset = startOf(node) ?? offset;
    } else break;
  }
  return offset === undefined ? undefined : lineCounter.linePos(offset);
}

const at = (file: string, position: Position | undefined): string =>
  position === undefined ? file : `${file}:${position.line}:${position.col}`;

/** One line per problem; an unknown-keys issue becomes one line per key, at that key. */
function describeIssue(issue: z.core.$ZodIssue, file: string, doc: Document, lineCounter: LineCounter) {
  const lines: Located[] = [];
  const prefix = (path: readonly PropertyKey[]): string => (path.length === 0 ? '' : `${formatPath(path)}: `);
  if (issue.code === 'unrecognized_keys') {
    for (const key of issue.keys) {
      const position = locate(doc, lineCounter, [...issue.path, key]);
      lines.push({ position, text: `${at(file, position)} ${prefix(issue.path)}unknown key ${JSON.stringify(key)}` });
    }
  } else {
    const position = locate(doc, lineCounter, issue.path);
    lines.push({ position, text: `${at(file, position)} ${prefix(issue.path)}${issue.message}` });
  }
  return lines;
}

/** The YAML document, or a ConfigError listing its syntax errors. */
function parseYaml(text: string, file: string): { doc: Document; lineCounter: LineCounter } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    version: '1.1',
    merge: true,
    customTags: withoutDatesAndSexagesimals,
    prettyErrors: false,
  });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((err) => {
        // The library's advice ("use YAML.parseAllDocuments()") is for programmers, not for this file's author.
        const message =
          err.code === 'MULTIPLE_DOCS' ? 'a config file holds one YAML document; remove the second "---"' : err.message;
        return `${at(file, lineCounter.linePos(err.pos[0]))} invalid YAML: ${message}`;
      }),
    );
  }
  return { doc, lineCounter };
}

/** The document as plain values, with empty entries dropped; an empty file is an empty mapping. */
function plainValues(doc: Document, file: string): unknown {
  try {
    return withoutNulls(doc.toJS({ maxAliasCount: 100 })) ?? {};
  } catch (err: unknown) {
    // toJS refuses alias bombs (more than maxAliasCount expansions); a self-containing anchor is caught above.
    const reason =
      err instanceof RecursiveAliasError
        ? 'an anchor is used inside itself'
        : err instanceof Error
          ? err.message
          : String(err);
    throw new ConfigError([`${file} invalid YAML: ${reason}`], { cause: err });
  }
}

/**
 * Renames keys to the schema's spelling and takes out unknown ones (keys.ts), in the config and in each
 * connector's `config` (checked against its type's schema, as Dex unmarshals it into the connector's struct).
 */
function withCanonicalKeys(data: unknown, schema: z.ZodType, options: LoadConfigOptions, report: KeyReport): unknown {
  const canonical = canonicalKeys(data, schema, [], report);
  const record = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!record(canonical) || !Array.isArray(canonical['connectors'])) return canonical;
  canonical['connectors'] = canonical['connectors'].map((entry: unknown, index) => {
    if (!record(entry) || typeof entry['type'] !== 'string' || !record(entry['config'])) return entry;
    const type = entry['type'];
    const connectorSchema = Object.hasOwn(options.connectorSchemas, type) ? options.connectorSchemas[type] : undefined;
    if (connectorSchema === undefined) return entry;
    return {
      ...entry,
      config: canonicalKeys(entry['config'], connectorSchema, ['connectors', index, 'config'], report),
    };
  });
  return canonical;
}

interface Located {
  readonly position: Position | undefined;
  readonly text: string;
}

const byPosition = (a: Located, b: Located): number =>
  (a.position?.line ?? 0) - (b.position?.line ?? 0) || (a.position?.col ?? 0) - (b.position?.col ?? 0);

/** The unknown and repeated keys, as warnings (or, for `strict`, unknown keys as error lines). */
function keyFindings(report: KeyReport, file: string, doc: Document, lineCounter: LineCounter) {
  const warnings: ConfigWarning[] = [];
  const errors: Located[] = [];
  for (const { path, suggestion } of report.unknown) {
    const position = locate(doc, lineCounter, path);
    const parent = path.slice(0, -1);
    const key = JSON.stringify(String(path.at(-1)));
    const meant = suggestion === undefined ? '' : ` (did you mean ${JSON.stringify(suggestion)}?)`;
    errors.push({
      position,
      text: `${at(file, position)} ${parent.length === 0 ? '' : `${formatPath(parent)}: `}unknown key ${key}${meant}`,
    });
    warnings.push({
      at: at(file, position),
      key: formatPath(path),
      message: `is not a key idport or Dex knows${meant}; ignored, as Dex ignores it`,
    });
  }
  for (const { path, field } of report.repeated) {
    const position = locate(doc, lineCounter, path);
    warnings.push({
      at: at(file, position),
      key: formatPath(path),
      message: `names the same setting as an earlier ${JSON.stringify(field)} (keys match case-insensitively); this later one is used, as in Dex`,
    });
  }
  return { warnings, errors };
}

/**
 * `$VAR` references to unset variables in the sections Dex expands (storage.config, connectors[].config,
 * signer.config): Dex puts "" there silently, so say which variable it was, as a warning, and beside the errors
 * when the config fails (an empty bindPW or clientSecret is usually why).
 */
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function unsetFindings(
  data: unknown,
  env: Env,
  file: string,
  yaml: { readonly doc: Document; readonly lineCounter: LineCounter },
) {
  const root = isObject(data) ? data : {};
  const configOf = (value: unknown): unknown => (isObject(value) ? value['config'] : undefined);
  const connectors: unknown[] = Array.isArray(root['connectors']) ? root['connectors'] : [];
  const sections: [readonly PropertyKey[], unknown][] = [
    [['storage', 'config'], configOf(root['storage'])],
    [['signer', 'config'], configOf(root['signer'])],
    ...connectors.map((entry, index): [readonly PropertyKey[], unknown] => [
      ['connectors', index, 'config'],
      configOf(entry),
    ]),
  ];
  const warnings: ConfigWarning[] = [];
  const errors: Located[] = [];
  for (const [base, value] of sections)
    for (const { path, name } of unsetReferences(value, env, base)) {
      const position = locate(yaml.doc, yaml.lineCounter, path);
      const message = `uses $${name}, which is not set (it becomes an empty string, as in Dex)`;
      warnings.push({ at: at(file, position), key: formatPath(path), message });
      errors.push({
        position,
        text: `${at(file, position)} ${formatPath(path)}: environment variable ${name} is not set`,
      });
    }
  return { warnings, errors };
}

/**
 * The config after Dex's image templating (template.ts) when it holds template actions; errors name the line.
 * Later positions are in the rendered text, which differs from the file only where actions were.
 */
function rendered(text: string, file: string, env: Env): string {
  if (!hasTemplateActions(text)) return text;
  try {
    return renderTemplate(text, env);
  } catch (err: unknown) {
    if (err instanceof TemplateError) throw new ConfigError([`${file}:${err.line} template: ${err.message}`]);
    throw err;
  }
}

/**
 * Parses and validates config YAML. `file` names the source in messages. Throws ConfigError listing
 * every problem (YAML syntax first; if the YAML is valid, every schema problem, in file order). Unknown keys
 * are warnings, as Dex ignores them, unless `options.strict`.
 */
export function readConfig(text: string, file: string, options: LoadConfigOptions): LoadedConfig {
  const { doc, lineCounter } = parseYaml(rendered(text, file, options.env), file);
  const schema = createConfigSchema({ env: options.env, connectorSchemas: options.connectorSchemas });
  const report = emptyKeyReport();
  const data = applyOverrides(withCanonicalKeys(plainValues(doc, file), schema, options, report), options.overrides);
  const keys = keyFindings(report, file, doc, lineCounter);
  const unset = unsetFindings(data, options.env, file, { doc, lineCounter });
  const result = schema.safeParse(data, { error: humanError });
  const strictErrors = options.strict === true ? keys.errors : [];
  if (result.success && strictErrors.length === 0)
    return { config: result.data, warnings: [...keys.warnings, ...unset.warnings] };
  const schemaErrors = result.success
    ? []
    : [...result.error.issues.flatMap((issue) => describeIssue(issue, file, doc, lineCounter)), ...unset.errors];
  const lines = [...strictErrors, ...schemaErrors].sort(byPosition);
  throw new ConfigError([...new Set(lines.map((line) => line.text))]);
}

/** `readConfig` for callers that need only the config (tests, embedders); unknown keys are dropped quietly. */
export const loadConfig = (text: string, file: string, options: LoadConfigOptions): Config =>
  readConfig(text, file, options).config;

/** Reads and loads a config file; an unreadable file is a ConfigError too. */
export async function readConfigFile(path: string, options: LoadConfigOptions): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err: unknown) {
    const reason =
      err instanceof Error && 'code' in err && err.code === 'ENOENT'
        ? 'no such file'
        : err instanceof Error
          ? err.message
          : String(err);
    throw new ConfigError([`${path}: cannot read the config file (${reason})`], { cause: err });
  }
  return readConfig(text, path, options);
}

/** `readConfigFile` without the warnings. */
export const loadConfigFile = async (path: string, options: LoadConfigOptions): Promise<Config> =>
  (await readConfigFile(path, options)).config;
