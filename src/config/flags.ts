/**
 * Dex's command line for `serve` (cmd/dex/serve.go): one config file and four address flags that replace the
 * config's values before it is validated, so Dex's Helm chart (`--web-http-addr` with a config that has no `web`
 * block) and manifests written for Dex start unchanged. Flags are read as Go's pflag reads them: `--flag value`
 * or `--flag=value`, before or after the file, and `--` ends them.
 */
import { listenAddress } from './fields.js';

/** Addresses given on the command line; each replaces the config's value when set. */
export interface ServeOverrides {
  /** `--web-http-addr` → web.http */
  readonly webHttpAddr?: string | undefined;
  /** `--web-https-addr` → web.https */
  readonly webHttpsAddr?: string | undefined;
  /** `--telemetry-addr` → telemetry.http */
  readonly telemetryAddr?: string | undefined;
  /** `--grpc-addr` → grpc.addr */
  readonly grpcAddr?: string | undefined;
}

/** What `serve` was asked to do. */
export interface ServeArgs {
  readonly configPath: string;
  readonly overrides: ServeOverrides;
}

const FLAGS = {
  '--web-http-addr': 'webHttpAddr',
  '--web-https-addr': 'webHttpsAddr',
  '--telemetry-addr': 'telemetryAddr',
  '--grpc-addr': 'grpcAddr',
} as const satisfies Record<string, keyof ServeOverrides>;

const isFlag = (name: string): name is keyof typeof FLAGS => Object.hasOwn(FLAGS, name);

/** Reads one flag at `args[index]`; returns its value and how many arguments it took, or an error. */
function readFlag(args: readonly string[], index: number): { name: string; value: string; width: number } | string {
  const arg = args[index] ?? '';
  const eq = arg.indexOf('=');
  const name = eq === -1 ? arg : arg.slice(0, eq);
  if (!isFlag(name)) return `unknown flag: ${name}`;
  if (eq !== -1) return { name, value: arg.slice(eq + 1), width: 1 };
  const value = args[index + 1];
  if (value === undefined) return `flag needs an argument: ${name}`;
  return { name, value, width: 2 };
}

/** Parses `serve`'s arguments (after the word `serve`); a string is the usage error to print. */
export function parseServeArgs(args: readonly string[]): ServeArgs | string {
  const overrides: Record<string, string> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const flag = readFlag(args, i);
    if (typeof flag === 'string') return flag;
    // An empty value leaves the config's address, as in Dex (`if options.webHTTPAddr != ""`).
    if (flag.value !== '' && !listenAddress().safeParse(flag.value).success)
      return `${flag.name}: expected an address like "0.0.0.0:5556", got ${JSON.stringify(flag.value)}`;
    if (flag.value !== '' && isFlag(flag.name)) overrides[FLAGS[flag.name]] = flag.value;
    i += flag.width - 1;
  }
  const [configPath, ...extra] = positional;
  if (configPath === undefined) return 'serve needs a config file: serve [flags] CONFIG';
  if (extra.length > 0) return `serve takes one config file, got ${positional.length} arguments`;
  return { configPath, overrides };
}

const asMapping = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {};

/** The config data (keys already in the schema's spelling) with the command line's addresses in place. */
export function applyOverrides(data: unknown, overrides: ServeOverrides | undefined): unknown {
  if (overrides === undefined) return data;
  const config = asMapping(data);
  const set = (section: string, key: string, value: string | undefined): void => {
    if (value !== undefined) config[section] = { ...asMapping(config[section]), [key]: value };
  };
  set('web', 'http', overrides.webHttpAddr);
  set('web', 'https', overrides.webHttpsAddr);
  set('telemetry', 'http', overrides.telemetryAddr);
  set('grpc', 'addr', overrides.grpcAddr);
  return config;
}
