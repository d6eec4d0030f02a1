/**
 * The part of gomplate that Dex's container image applies to config files before Dex reads them
 * (cmd/docker-entrypoint/main.go), so a config written for that image (Dex's own config.docker.yaml) loads here:
 * `{{ getenv "X" }}`, `{{ getenv "X" "default" }}`, `{{ .Env.X }}`, `required`, `default`, `eq`/`ne`/`not`/
 * `and`/`or`, pipelines (`a | f b`), `if`/`else if`/`else`/`end`, comments and `{{-`/`-}}` trimming, as Go's
 * text/template reads them. Anything else is an error naming the line, never passed through as text.
 */
import type { Env } from './env.js';

/** A template that cannot be rendered; `line` is 1-based in the template text. */
export class TemplateError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(message);
    this.name = 'TemplateError';
    this.line = line;
  }
}

type Value = string | boolean | undefined;

interface Action {
  readonly kind: 'action';
  readonly code: string;
  readonly line: number;
}
interface Text {
  readonly kind: 'text';
  readonly text: string;
}
type Token = Action | Text;

const lineAt = (source: string, offset: number): number => source.slice(0, offset).split('\n').length;

/** Splits the source into text and actions, applying `{{-`/`-}}` trimming and dropping comments. */
function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let trimNext = false;
  while (pos <= source.length) {
    const open = source.indexOf('{{', pos);
    let text = source.slice(pos, open === -1 ? undefined : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open === -1) {
      tokens.push({ kind: 'text', text });
      break;
    }
    const line = lineAt(source, open);
    const trimLeft = /^\{\{-\s/.test(source.slice(open, open + 4));
    if (trimLeft) text = text.replace(/\s+$/, '');
    tokens.push({ kind: 'text', text });
    const close = findClose(source, open + 2, line);
    const trimRight = /\s-$/.test(source.slice(close - 2, close));
    const code = source.slice(open + (trimLeft ? 3 : 2), trimRight ? close - 2 : close).trim();
    if (!(code.startsWith('/*') && code.endsWith('*/'))) tokens.push({ kind: 'action', code, line });
    trimNext = trimRight;
    pos = close + 2;
  }
  return tokens;
}

/** The offset of the `}}` that closes an action, skipping quoted strings and comments. */
function findClose(source: string, from: number, line: number): number {
  let i = from;
  while (i < source.length) {
    const c = source[i];
    if (source.startsWith('/*', i)) {
      const end = source.indexOf('*/', i + 2);
      if (end === -1) break;
      i = end + 2;
    } else if (c === '"' || c === '`') {
      const end = c === '`' ? source.indexOf('`', i + 1) : closingQuote(source, i);
      if (end === -1) break;
      i = end + 1;
    } else if (source.startsWith('}}', i)) return i;
    else i++;
  }
  throw new TemplateError(line, 'unclosed action: "{{" without "}}"');
}

function closingQuote(source: string, start: number): number {
  for (let i = start + 1; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (source[i] === '"') return i;
    else if (source[i] === '\n') return -1;
  }
  return -1;
}

/** A lexical item inside an action. */
type Word =
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'name'; readonly value: string }
  | { readonly kind: 'punct'; readonly value: '(' | ')' | '|' };

function words(code: string, line: number): Word[] {
  const out: Word[] = [];
  const pattern = /\s*(?:("(?:[^"\\]|\\.)*")|(`[^`]*`)|([()|])|([^\s()|"`]+))/gy;
  let match: RegExpExecArray | null;
  while (pattern.lastIndex < code.length && (match = pattern.exec(code)) !== null) {
    const [, quoted, raw, punct, name] = match;
    if (quoted !== undefined) out.push({ kind: 'string', value: JSON.parse(quoted) as string });
    else if (raw !== undefined) out.push({ kind: 'string', value: raw.slice(1, -1) });
    else if (punct !== undefined) out.push({ kind: 'punct', value: punct as '(' | ')' | '|' });
    else if (name !== undefined) out.push({ kind: 'name', value: name });
  }
  if (code.slice(pattern.lastIndex).trim() !== '') throw new TemplateError(line, `cannot read "${code}"`);
  return out;
}

const truthy = (value: Value): boolean => value !== undefined && value !== false && value !== '';
const asText = (value: Value): string => (value === undefined ? '' : String(value));

/** Evaluates the words of one action: a pipeline of commands joined by `|`. */
class Evaluator {
  private pos = 0;
  constructor(
    private readonly items: readonly Word[],
    private readonly env: Env,
    private readonly line: number,
  ) {}

  run(): Value {
    const value = this.pipeline();
    if (this.pos < this.items.length) this.fail('unexpected ")"');
    return value;
  }

  private fail(message: string): never {
    throw new TemplateError(this.line, message);
  }

  private pipeline(): Value {
    let value = this.command({ isPiped: false, value: undefined });
    while (this.peek('|')) {
      this.pos++;
      value = this.command({ isPiped: true, value });
    }
    return value;
  }

  private peek(punct: string): boolean {
    const item = this.items[this.pos];
    return item?.kind === 'punct' && item.value === punct;
  }

  /** One command; a piped value (from the command before `|`) becomes the last argument, as in Go. */
  private command(piped: { readonly isPiped: boolean; readonly value: Value }): Value {
    const first = this.items[this.pos];
    if (first?.kind === 'name' && FUNCTIONS.has(first.value)) {
      this.pos++;
      const args: Value[] = [];
      while (this.pos < this.items.length && !this.peek('|') && !this.peek(')')) args.push(this.operand());
      if (piped.isPiped) args.push(piped.value);
      return this.call(first.value, args);
    }
    if (piped.isPiped) this.fail(`cannot pipe into ${first === undefined ? 'nothing' : JSON.stringify(first.value)}`);
    return this.operand();
  }

  private operand(): Value {
    const item = this.items[this.pos++];
    if (item === undefined) return this.fail('missing value');
    if (item.kind === 'string') return item.value;
    if (item.kind === 'punct') {
      if (item.value !== '(') this.fail(`unexpected "${item.value}"`);
      const value = this.pipeline();
      if (!this.peek(')')) this.fail('missing ")"');
      this.pos++;
      return value;
    }
    if (item.value === 'true' || item.value === 'false') return item.value === 'true';
    const env = /^\.Env\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(item.value);
    if (env !== null) return this.envVar(env[1] ?? '');
    if (/^-?\d+(\.\d+)?$/.test(item.value)) return item.value;
    return this.fail(
      `"${item.value}" is not supported in config templates (supported: getenv, .Env.NAME, required, default, eq, ne, not, and, or, if/else/end)`,
    );
  }

  /** `.Env.NAME`: gomplate reads a missing map key as an error, naming it. */
  private envVar(name: string): string {
    const value = this.env[name];
    if (value === undefined) this.fail(`environment variable ${name} is not set (.Env.${name})`);
    return value;
  }

  private call(name: string, args: readonly Value[]): Value {
    const arity = (min: number, max: number): void => {
      if (args.length < min || args.length > max)
        this.fail(
          `${name} takes ${min === max ? min : `${min} or ${max}`} argument${max === 1 ? '' : 's'}, got ${args.length}`,
        );
    };
    switch (name) {
      case 'getenv': {
        arity(1, 2);
        const value = this.env[asText(args[0])];
        return value === undefined || value === '' ? asText(args[1]) : value;
      }
      case 'required': {
        arity(1, 2);
        const value = args.at(-1);
        if (value === undefined || value === '')
          this.fail(args.length === 2 ? asText(args[0]) : 'required value is missing');
        return value;
      }
      case 'default':
        arity(2, 2);
        return truthy(args[1]) ? args[1] : args[0];
      case 'eq':
      case 'ne':
        arity(2, 2);
        return (asText(args[0]) === asText(args[1])) === (name === 'eq');
      case 'not':
        arity(1, 1);
        return !truthy(args[0]);
      case 'and':
        return args.find((arg) => !truthy(arg)) ?? args.at(-1);
      default:
        return args.find(truthy) ?? args.at(-1);
    }
  }
}

const FUNCTIONS = new Set(['getenv', 'required', 'default', 'eq', 'ne', 'not', 'and', 'or']);

const evaluate = (code: string, env: Env, line: number): Value => new Evaluator(words(code, line), env, line).run();

/** Renders tokens from `start` until an `else`/`end` at this level; returns where it stopped. */
function renderBlock(
  tokens: readonly Token[],
  start: number,
  env: Env,
  out: string[] | undefined,
): { next: number; stop?: Action } {
  let i = start;
  while (i < tokens.length) {
    const token = tokens[i++];
    if (token === undefined) break;
    if (token.kind === 'text') {
      out?.push(token.text);
      continue;
    }
    if (token.code === 'end' || token.code === 'else' || token.code.startsWith('else if '))
      return { next: i, stop: token };
    if (token.code.startsWith('if ')) {
      i = renderIf(tokens, i, { env, out, condition: token });
      continue;
    }
    const value = out === undefined ? undefined : evaluate(token.code, env, token.line);
    out?.push(asText(value));
  }
  return { next: i };
}

/** Renders an if/else if/else/end chain; only the taken branch is evaluated, as in Go. */
function renderIf(
  tokens: readonly Token[],
  start: number,
  state: { readonly env: Env; readonly out: string[] | undefined; readonly condition: Action },
): number {
  let condition: Action | undefined = state.condition;
  let taken = false;
  let i = start;
  for (;;) {
    const code = condition?.code.replace(/^(else )?if /, '');
    const take: boolean =
      !taken &&
      (condition === undefined || (state.out !== undefined && truthy(evaluate(code ?? '', state.env, condition.line))));
    const block = renderBlock(tokens, i, state.env, take ? state.out : undefined);
    taken ||= take;
    i = block.next;
    if (block.stop === undefined) throw new TemplateError(state.condition.line, '"if" without "end"');
    if (block.stop.code === 'end') return i;
    if (condition === undefined) throw new TemplateError(block.stop.line, '"else" after "else"');
    condition = block.stop.code === 'else' ? undefined : block.stop;
  }
}

/** Whether the text holds template actions (a config without them is read as it is). */
export const hasTemplateActions = (source: string): boolean => source.includes('{{');

/** Renders a config template with the environment; throws TemplateError naming the line. */
export function renderTemplate(source: string, env: Env): string {
  const tokens = tokenize(source);
  const out: string[] = [];
  const { stop } = renderBlock(tokens, 0, env, out);
  if (stop !== undefined) throw new TemplateError(stop.line, `"${stop.code}" without "if"`);
  return out.join('');
}
