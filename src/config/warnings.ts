/**
 * Keys of a valid config that idport accepts but cannot honour as Dex does. Each is said at startup (and by
 * `check-config`) instead of being ignored silently (ARCHITECTURE.md decision 1). They are warnings rather than
 * errors where an error would stop configs written for Dex's container image, which set them routinely.
 */
import type { Config } from './schema.js';

/** One warning: the config path it is about and what the operator should know. */
export interface ConfigWarning {
  /** Where in the config file, `FILE:LINE:COL`, when the warning is about a place in the YAML. */
  readonly at?: string | undefined;
  /** Config path, e.g. "frontend.dir". */
  readonly key: string;
  readonly message: string;
}

/** One line for a terminal or a log message: `config.yaml:7:3 web.tlsCertificate is not a key …`. */
export const formatWarning = (warning: ConfigWarning): string =>
  `${warning.at === undefined ? '' : `${warning.at} `}${warning.key} ${warning.message}`;

/** Every warning for a loaded config, in the order of the keys in config.example.yaml. */
export const configWarnings = (config: Config): ConfigWarning[] => {
  const warnings: ConfigWarning[] = [];
  if (/\/$/.test(config.issuer))
    warnings.push({
      key: 'issuer',
      message: `ends with "/": discovery and tokens say ${JSON.stringify(config.issuer.replace(/\/+$/, ''))}, and clients compare the issuer exactly; remove the slash here and in the clients`,
    });
  if (config.web.allowedHeaders.length > 0 && config.web.allowedOrigins.length === 0)
    warnings.push({ key: 'web.allowedHeaders', message: 'has no effect without web.allowedOrigins (CORS is off)' });
  if (config.frontend.dir !== undefined)
    warnings.push({
      key: 'frontend.dir',
      message: `is ignored: idport renders its own pages and themes, so Dex's Go templates and static files in ${JSON.stringify(config.frontend.dir)} are not used`,
    });
  const extra = Object.keys(config.frontend.extra);
  if (extra.length > 0)
    warnings.push({
      key: 'frontend.extra',
      message: `is ignored: idport's pages do not read template values (${extra.map((name) => JSON.stringify(name)).join(', ')})`,
    });
  const withoutId = config.staticPasswords.flatMap((user, index) => (user.userID === '' ? [index] : []));
  if (withoutId.length >= 2)
    warnings.push({
      key: 'staticPasswords',
      message: `entries ${withoutId.map((index) => `[${index}]`).join(', ')} have no userID, so they share one identity (the same "sub", EgVsb2NhbA, as in Dex): give each a userID of its own`,
    });
  return warnings;
};
