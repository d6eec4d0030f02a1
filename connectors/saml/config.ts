/**
 * The `saml` connector's config: Dex's keys (connector/saml/saml.go) with Dex's rules, so a Dex
 * config.yaml loads unchanged. One difference: `insecureSkipSignatureValidation: true` is a startup
 * error, because the SAML library (node-saml) always verifies signatures and a login whose identity
 * nobody checked is not something to run by accident.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

const NAME_ID_FORMATS = [
  'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
  'urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName',
  'urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:encrypted',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:entity',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
] as const;

/** Dex's default `nameIDPolicyFormat`. */
export const DEFAULT_NAME_ID_FORMAT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

/** Resolves a `nameIDPolicyFormat` as Dex does: "" is persistent, and "emailAddress" stands for the full URN. */
export function resolveNameIdFormat(value: string): string | undefined {
  if (value === '') return DEFAULT_NAME_ID_FORMAT;
  return NAME_ID_FORMATS.find((format) => format === value || format.slice(format.lastIndexOf(':') + 1) === value);
}

/**
 * Splits PEM text into certificates, each checked to parse. Like Dex, anything that is not a
 * CERTIFICATE block (trailing text, a key) is an error rather than silently ignored.
 */
export function parseCertificates(pem: string): string[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const rest = blocks.reduce((text, block) => text.replace(block, ''), pem).trim();
  if (rest !== '') throw new Error(`trailing data that is not a PEM certificate: ${JSON.stringify(rest.slice(0, 40))}`);
  if (blocks.length === 0) throw new Error('no certificates found in ca data');
  for (const block of blocks) new X509Certificate(block); // throws on a certificate that does not parse
  return blocks;
}

// Go's zero values: Dex treats an absent list, bool or string like an empty one.
const text = z.string().default('');
const flag = z.boolean().default(false);

/** The `saml` connector's config (Dex's `saml.Config`). */
export const configSchema = z
  .strictObject({
    /** The IdP's SSO endpoint; the AuthnRequest is POSTed there (HTTP-POST binding). */
    ssoURL: z.url(),
    /** Path of a PEM file with the certificate(s) the IdP signs with. */
    ca: text,
    /** Base64 of PEM certificate(s) (Dex's []byte in JSON); the alternative to `ca`. */
    caData: text,
    /** Our SAML entity ID: the AuthnRequest's Issuer and the audience assertions must name. Defaults to `redirectURI`. */
    entityIssuer: text,
    /** The IdP's entity ID; when set, the assertion's Issuer must equal it. */
    ssoIssuer: text,
    /** Our Assertion Consumer Service URL (`<issuer>/callback`): the assertion's Recipient must equal it. */
    redirectURI: z.url(),
    /** Refused: node-saml always checks signatures (see the file comment). */
    insecureSkipSignatureValidation: flag.refine(
      (skip) => !skip,
      'insecureSkipSignatureValidation is not supported by idport: every SAML response must be signed by a certificate in ca or caData',
    ),
    usernameAttr: z.string().min(1, 'usernameAttr is required'),
    emailAttr: z.string().min(1, 'emailAttr is required'),
    groupsAttr: text,
    /** When set, groups arrive as one attribute value joined by this delimiter instead of one value each. */
    groupsDelim: text,
    /** Only members of one of these groups may log in. */
    allowedGroups: z.array(z.string()).default([]),
    /** With `allowedGroups`: report only the allowed groups. */
    filterGroups: flag,
    /** Requested NameID format: a full URN or its last part ("emailAddress"); Dex's default is persistent. */
    nameIDPolicyFormat: text.refine(
      (f) => resolveNameIdFormat(f) !== undefined,
      'must be a SAML NameID format such as "persistent", "emailAddress" or its full URN',
    ),
  })
  .superRefine((config, ctx) => {
    if ((config.ca === '') === (config.caData === '')) {
      ctx.addIssue({ code: 'custom', path: ['ca'], message: "must provide either 'ca' or 'caData'" });
    }
    if (config.caData !== '') {
      try {
        parseCertificates(Buffer.from(config.caData, 'base64').toString('utf8'));
      } catch (err: unknown) {
        ctx.addIssue({
          code: 'custom',
          path: ['caData'],
          message: `must be base64 of PEM certificates: ${err instanceof Error ? err.message : String(err)}`,
        });
      }
    }
  });

/** The parsed config. */
export type SamlConfig = z.infer<typeof configSchema>;

/** The IdP's signing certificates (PEM) from `ca` (read now, as Dex reads it at startup) or `caData`. */
export async function loadCertificates(config: SamlConfig): Promise<string[]> {
  const pem =
    config.caData !== '' ? Buffer.from(config.caData, 'base64').toString('utf8') : await readFile(config.ca, 'utf8');
  try {
    return parseCertificates(pem);
  } catch (err: unknown) {
    throw new Error(
      `saml: ${config.caData !== '' ? 'caData' : `ca file ${config.ca}`}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}
