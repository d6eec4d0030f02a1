/**
 * Human wording for zod's generic issues ("required", "expected a list"), so a config error reads like
 * advice about YAML rather than about JavaScript types. Messages set in the schema itself take precedence.
 */
import type { z } from 'zod';

const MAX_SHOWN = 40;

/** A short description of a YAML value for "got …". */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Uint8Array) return 'binary data';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string')
    return JSON.stringify(value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value);
  return String(value);
}

const EXPECTED: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping (key: value pairs)',
  record: 'a mapping (key: value pairs)',
};

const quoteAll = (values: readonly unknown[]): string => values.map((v) => JSON.stringify(v)).join(', ');

/** The per-parse error map for config parsing: plain words for every generic zod issue. */
export const humanError: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      if (issue.expected === 'never') return 'not allowed here';
      return `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describeValue(issue.input)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `expected ${quoteAll(issue.values)}, got ${describeValue(issue.input)}`
        : `expected one of ${quoteAll(issue.values)}, got ${describeValue(issue.input)}`;
    case 'too_small':
      if (issue.origin === 'string')
        return issue.minimum === 1 ? 'must not be empty' : `must be at least ${issue.minimum} characters`;
      if (issue.origin === 'array') return `must have at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`;
      return `must be at least ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
      if (issue.origin === 'array') return `must have at most ${issue.maximum} items`;
      return `must be at most ${issue.maximum}`;
    case 'unrecognized_keys':
      // The loader reports each key on its own line, at the key; this text is only a fallback.
      return `unknown key${issue.keys.length === 1 ? '' : 's'} ${quoteAll(issue.keys)}`;
    case 'invalid_format':
      return issue.format === 'url'
        ? 'expected a URL'
        : `expected ${issue.format === 'regex' ? 'a different format' : `a valid ${issue.format}`}`;
    case 'invalid_union':
      return 'did not match any allowed form';
    case 'invalid_key':
      return 'invalid key';
    case 'invalid_element':
      return 'invalid value';
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return 'invalid value';
  }
};
