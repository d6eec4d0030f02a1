/**
 * Dex's `serve` flags that override listen addresses (cmd/dex/serve.go: --web-http-addr, --web-https-addr,
 * --telemetry-addr), which Dex's Helm chart passes instead of putting addresses in the config. They are applied
 * to the YAML before validation, so a config without a `web` section (as Dex's chart examples have) is valid
 * when the flag gives the address.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument, YAMLMap } from 'yaml';

const FLAGS: Readonly<Record<string, readonly string[]>> = {
  '--web-http-addr': ['web', 'http'],
  '--web-https-addr': ['web', 'https'],
  '--telemetry-addr': ['telemetry', 'http'],
};

/** `serve` arguments: the config path and the YAML paths the flags set. */
export interface ServeArguments {
  readonly configPath: string | undefined;
  readonly overrides: readonly { readonly path: readonly string[]; readonly value: string }[];
}

/** Parses `[--flag value | --flag=value]... CONFIG`; throws an Error naming a flag it does not know. */
export const parseServeArguments = (args: readonly string[]): ServeArguments => {
  const overrides: { path: readonly string[]; value: string }[] = [];
  let configPath: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (!arg.startsWith('--')) {
      if (configPath !== undefined) throw new Error(`unexpected argument ${JSON.stringify(arg)}`);
      configPath = arg;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const path = FLAGS[name];
    if (path === undefined)
      throw new Error(
        name === '--grpc-addr' ? 'the gRPC API is not supported by idport yet (--grpc-addr)' : `unknown flag ${name}`,
      );
    const value = eq < 0 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') throw new Error(`${name} needs an address like 0.0.0.0:5556`);
    overrides.push({ path, value });
  }
  return { configPath, overrides };
};

/** The config file's text with the flags' addresses set, for `loadConfig`. */
export const configTextWithOverrides = async (args: ServeArguments, path: string): Promise<string> => {
  const text = await readFile(path, 'utf8');
  if (args.overrides.length === 0) return text;
  const doc = parseDocument(text, { version: '1.1' });
  for (const { path: keys, value } of args.overrides) {
    // A section the file lacks is added as a plain map (setIn alone would make a YAML 1.1 !!omap).
    const [section] = keys;
    if (section !== undefined && !doc.has(section)) doc.set(section, new YAMLMap());
    doc.setIn(keys, value);
  }
  return doc.toString();
};
