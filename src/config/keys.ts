/**
 * Mapping keys read the way Dex reads them. Dex parses YAML through ghodss/yaml into Go's encoding/json, so a
 * key matches a field case-insensitively (`RedirectURIs`, `UserId`, `OAuth2`) and a key no field takes is
 * ignored. This pass walks the YAML value along the zod schema, renames each key to the schema's spelling and
 * takes out the keys the schema does not know, reporting them so the loader can warn (or, with `--strict`,
 * refuse). Values themselves are left to the schema.
 */
import { z } from 'zod';

/** A key the schema does not know: its path in the YAML as written, and the known key it most likely meant. */
export interface UnknownKey {
  readonly path: readonly PropertyKey[];
  readonly suggestion?: string | undefined;
}

/** Edit distance (insertions, deletions, substitutions) between two short strings. */
const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = current;
  }
  return previous[b.length] ?? 0;
};

/** The field a mistyped key most likely meant (case aside, at most a quarter of its letters off), if any. */
export const nearestKey = (key: string, fields: readonly string[]): string | undefined => {
  const typed = key.toLowerCase();
  const limit = Math.max(1, Math.floor(typed.length / 4));
  let best: { field: string; distance: number } | undefined;
  for (const field of fields) {
    const distance = editDistance(typed, field.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { field, distance };
  }
  return best?.field;
};

/** What the pass found besides the rewritten value. */
export interface KeyReport {
  /** Keys no field takes (ignored, as Dex ignores them). */
  readonly unknown: UnknownKey[];
  /** Keys that name the same field as an earlier key of the same mapping; the later one wins, as in Go. */
  readonly repeated: { readonly path: readonly PropertyKey[]; readonly field: string }[];
}

/** Sets an own property, so a YAML key named "__proto__" stays a plain key. */
const put = (target: Record<string, unknown>, key: string, value: unknown): void => {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
};

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);

/** The schema that describes the value's structure, past optional/default/pipe wrappers. */
function structural(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (let depth = 0; depth < 32; depth++) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodNullable ||
      current instanceof z.ZodReadonly ||
      current instanceof z.ZodCatch
    )
      current = current.def.innerType as z.ZodType;
    else if (current instanceof z.ZodPipe)
      // z.preprocess(fn, inner) is pipe(transform, inner); schema.transform(fn) is pipe(schema, transform).
      current = (current.def.in instanceof z.ZodTransform ? current.def.out : current.def.in) as z.ZodType;
    else if (current instanceof z.ZodLazy) current = current.def.getter() as z.ZodType;
    else return current;
  }
  return current;
}

/** The field a YAML key names: the exact spelling first, else the one equal ignoring case (Go's EqualFold). */
function fieldFor(key: string, fields: readonly string[]): string | undefined {
  if (fields.includes(key)) return key;
  const folded = key.toLowerCase();
  return fields.find((field) => field.toLowerCase() === folded);
}

/** The option of a discriminated union the value selects, matching the discriminator key case-insensitively. */
function selectedOption(union: z.ZodDiscriminatedUnion, value: Record<string, unknown>): z.ZodType | undefined {
  const discriminator = union.def.discriminator;
  const key = fieldFor(discriminator, Object.keys(value)) ?? discriminator;
  const tag = value[key];
  return union.options.find((option) => {
    const shape = structural(option as z.ZodType);
    if (!(shape instanceof z.ZodObject)) return false;
    const field = shape.shape[discriminator];
    return field instanceof z.ZodLiteral && field.values.has(tag as z.core.util.Literal);
  }) as z.ZodType | undefined;
}

function mapping(
  value: Record<string, unknown>,
  object: z.ZodObject,
  path: readonly PropertyKey[],
  report: KeyReport,
): Record<string, unknown> {
  const fields = Object.keys(object.shape);
  const catchall = object.def.catchall;
  const keepsUnknown = catchall !== undefined && !(catchall instanceof z.ZodNever);
  const out: Record<string, unknown> = {};
  const seenAs = new Map<string, string>();
  for (const [key, item] of Object.entries(value)) {
    const field = fieldFor(key, fields);
    if (field === undefined) {
      if (keepsUnknown) put(out, key, item);
      else report.unknown.push({ path: [...path, key], suggestion: nearestKey(key, fields) });
      continue;
    }
    if (seenAs.has(field)) report.repeated.push({ path: [...path, key], field });
    seenAs.set(field, key);
    put(out, field, canonicalKeys(item, object.shape[field] as z.ZodType, [...path, key], report));
  }
  return out;
}

/**
 * The value with every mapping key spelled as the schema spells it and unknown keys removed (recorded in
 * `report` with their path as written). Records and untyped values keep their keys.
 */
export function canonicalKeys(
  value: unknown,
  schema: z.ZodType,
  path: readonly PropertyKey[],
  report: KeyReport,
): unknown {
  const shape = structural(schema);
  if (Array.isArray(value) && shape instanceof z.ZodArray)
    return value.map((item: unknown, index) =>
      canonicalKeys(item, shape.def.element as z.ZodType, [...path, index], report),
    );
  if (!isPlainObject(value)) return value;
  if (shape instanceof z.ZodObject) return mapping(value, shape, path, report);
  if (shape instanceof z.ZodDiscriminatedUnion) {
    const option = selectedOption(shape, value);
    return option === undefined ? value : canonicalKeys(value, option, path, report);
  }
  return value;
}

/** An empty report to fill. */
export const emptyKeyReport = (): KeyReport => ({ unknown: [], repeated: [] });
