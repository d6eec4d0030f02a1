/**
 * The `saml` connector: SAML 2.0 Web Browser SSO as a service provider, the AuthnRequest sent with the
 * HTTP-POST binding and the Response received at `redirectURI` (Dex's `/callback`). node-saml builds
 * the request and verifies the response (XML signature against the configured certificates, audience,
 * NotBefore/NotOnOrAfter, InResponseTo); this file adds the checks node-saml leaves out (bearer
 * Recipient, the signed assertion's Issuer and InResponseTo) and maps attributes with Dex's rules.
 * No refresh, as in released Dex: SAML cannot re-check a user, so a SAML login yields no refresh token
 * (Dex's unreleased dexidp/dex#4565 replays the cached identity instead).
 */
import { randomBytes } from 'node:crypto';
import {
  SAML,
  ValidateInResponseTo,
  type CacheProvider,
  type Profile,
  type SamlConfig as NodeSamlConfig,
} from '@node-saml/node-saml';
import type { Logger } from 'pino';
import { z } from 'zod';

import {
  ConnectorError,
  type ConnectorDeps,
  type ConnectorModule,
  type Identity,
  type SamlConnector,
  type Scopes,
} from '../connector.js';
import { configSchema, loadCertificates, resolveNameIdFormat, type SamlConfig } from './config.js';
import { STATUS_SUCCESS, topLevelStatus } from './status.js';

/** `Responder` of `urn:oasis:names:tc:SAML:2.0:status:Responder`. */
const lastSegment = (uri: string): string => uri.slice(uri.lastIndexOf(':') + 1);

export { configSchema, type SamlConfig } from './config.js';

/** Dex's allowedClockDrift: how far the IdP's clock may be off for NotBefore/NotOnOrAfter. */
export const CLOCK_SKEW_MS = 30_000;

// node-saml wants a lifetime for request ids; the auth request's own expiry is what really bounds a login.
const REQUEST_ID_LIFETIME_MS = 24 * 60 * 60 * 1000;

const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

/** User messages (safe to show; the error's message carries the details for the log). */
const USER = {
  invalid: 'The identity provider’s answer could not be verified. Go back to the application and sign in again.',
  expired: 'This login request is invalid or has expired. Go back to the application and sign in again.',
  attributes: 'The identity provider did not send the details needed to log you in.',
  groups: 'You are not a member of a group that may log in here.',
} as const;

/** What a login keeps between postData and handlePost (stored server-side with the auth request). */
const loginStateSchema = z.strictObject({ requestId: z.string(), relayState: z.string(), issuedAt: z.string() });
type LoginState = z.infer<typeof loginStateSchema>;

// The parts of the verified assertion (node-saml's xml2js form, prefixes stripped) that node-saml does not check.
const confirmationDataSchema = z.object({ $: z.record(z.string(), z.string()).optional() });
const signedAssertionSchema = z.object({
  Assertion: z.object({
    Subject: z
      .array(
        z.object({
          SubjectConfirmation: z
            .array(
              z.object({
                $: z.record(z.string(), z.string()).optional(),
                SubjectConfirmationData: z.array(confirmationDataSchema).optional(),
              }),
            )
            .optional(),
        }),
      )
      .optional(),
  }),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Opens the connector: reads and checks the IdP certificates now, so a bad `ca` fails at startup. */
export async function open(id: string, config: SamlConfig, deps: ConnectorDeps): Promise<SamlConnector> {
  const idpCert = await loadCertificates(config);
  return new SamlProvider(config, idpCert, deps, deps.log.child({ connector: id }));
}

/** The connector module for the registry. */
export const saml = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

class SamlProvider implements SamlConnector {
  readonly kind = 'saml';
  private readonly options: NodeSamlConfig;
  private readonly audience: string;

  constructor(
    private readonly config: SamlConfig,
    idpCert: string[],
    private readonly deps: ConnectorDeps,
    private readonly log: Logger,
  ) {
    // Dex: without entityIssuer the redirect URI stands for us as the audience (and here as the request's Issuer).
    this.audience = config.entityIssuer !== '' ? config.entityIssuer : config.redirectURI;
    this.options = {
      idpCert,
      issuer: this.audience,
      audience: this.audience,
      callbackUrl: config.redirectURI,
      entryPoint: config.ssoURL,
      identifierFormat: resolveNameIdFormat(config.nameIDPolicyFormat) ?? null,
      allowCreate: true,
      // Dex sends no RequestedAuthnContext: the IdP decides how the user authenticates.
      disableRequestedAuthnContext: true,
      // SAML bindings §3.5.4: the POST binding carries the request base64-encoded, not deflated.
      skipRequestCompression: true,
      authnRequestBinding: 'HTTP-POST',
      // Dex accepts a signed Response or a signed Assertion; node-saml then verifies whichever is signed
      // (one of them always: an unsigned response is refused whatever these say).
      wantAuthnResponseSigned: false,
      wantAssertionsSigned: false,
      acceptedClockSkewMs: CLOCK_SKEW_MS,
      validateInResponseTo: ValidateInResponseTo.always,
      requestIdExpirationPeriodMs: REQUEST_ID_LIFETIME_MS,
    };
  }

  async postData(
    _scopes: Scopes,
    state: string,
  ): Promise<{ action: string; samlRequest: string; connectorState: Uint8Array }> {
    // An XML ID is an NCName: it may not start with a digit, hence the underscore.
    const requestId = `_${randomBytes(20).toString('hex')}`;
    const sp = new SAML({ ...this.options, generateUniqueId: () => requestId, cacheProvider: NO_CACHE });
    const message = await sp.getAuthorizeMessageAsync(state);
    if (typeof message.SAMLRequest !== 'string') throw new Error('node-saml produced no SAMLRequest');
    const loginState: LoginState = { requestId, relayState: state, issuedAt: this.deps.now().toISOString() };
    return {
      action: this.config.ssoURL,
      samlRequest: message.SAMLRequest,
      connectorState: encoder.encode(JSON.stringify(loginState)),
    };
  }

  async handlePost(
    scopes: Scopes,
    connectorState: Uint8Array | undefined,
    samlResponse: string,
    relayState: string,
  ): Promise<Identity> {
    const state = parseLoginState(connectorState);
    if (state === undefined)
      throw new ConnectorError('no SAML request is pending for this login (already used or never sent)', USER.expired);
    if (state.relayState !== relayState)
      throw new ConnectorError('RelayState does not belong to the pending SAML request', USER.expired);
    // InResponseTo may only name the request this login sent: node-saml looks it up in a cache holding just that id.
    const sp = new SAML({ ...this.options, cacheProvider: singleRequestCache(state) });
    const status = await topLevelStatus(samlResponse);
    if (status !== undefined && status.code !== STATUS_SUCCESS) {
      // The page names the status, so the user (or their admin) can tell the IdP refused rather than idport.
      const named = [status.code, status.detail]
        .filter((v) => v !== undefined)
        .map(lastSegment)
        .join(' / ');
      throw new ConnectorError(
        `SAML response status is ${status.code}${status.detail !== undefined ? ` (${status.detail})` : ''}, not Success`,
        `The identity provider refused the login (status ${named}). Go back to the application and sign in again.`,
      );
    }
    let profile: Profile | null;
    try {
      ({ profile } = await sp.validatePostResponseAsync({ SAMLResponse: samlResponse }));
    } catch (err: unknown) {
      throw new ConnectorError(
        `SAML response refused: ${err instanceof Error ? err.message : String(err)}`,
        USER.invalid,
        { cause: err },
      );
    }
    if (profile === null)
      throw new ConnectorError(
        'SAML response carries no assertion (passive login refused or a logout response)',
        USER.invalid,
      );
    this.checkAssertion(profile, state);
    return this.identityOf(scopes, profile);
  }

  /**
   * What Dex checks and node-saml does not, all read from the signed assertion: its Issuer (`ssoIssuer`), and a
   * bearer SubjectConfirmation for our ACS URL answering our request, still valid (SAML profiles §4.1.4.2-3).
   */
  private checkAssertion(profile: Profile, state: LoginState): void {
    if (this.config.ssoIssuer !== '' && profile.issuer !== this.config.ssoIssuer) {
      throw new ConnectorError(
        `SAML assertion issuer ${JSON.stringify(profile.issuer)} is not ssoIssuer ${JSON.stringify(this.config.ssoIssuer)}`,
        USER.invalid,
      );
    }
    const parsed = signedAssertionSchema.safeParse(profile.getAssertion?.());
    if (!parsed.success) throw new ConnectorError('SAML assertion has no readable Subject', USER.invalid);
    const confirmations = parsed.data.Assertion.Subject?.[0]?.SubjectConfirmation ?? [];
    const now = this.deps.now().getTime();
    const problems = confirmations.map((confirmation): string | undefined => {
      if (confirmation.$?.Method !== BEARER) return `method ${confirmation.$?.Method ?? '(none)'} is not bearer`;
      const data = confirmation.SubjectConfirmationData?.[0]?.$ ?? {};
      if (data.Recipient !== this.config.redirectURI)
        return `Recipient ${JSON.stringify(data.Recipient)} is not ${this.config.redirectURI}`;
      if (data.InResponseTo !== state.requestId)
        return `InResponseTo ${JSON.stringify(data.InResponseTo)} is not the pending request`;
      const notOnOrAfter = Date.parse(data.NotOnOrAfter ?? '');
      if (Number.isNaN(notOnOrAfter) || now - CLOCK_SKEW_MS >= notOnOrAfter)
        return `expired or without NotOnOrAfter (${data.NotOnOrAfter ?? 'none'})`;
      const notBefore = Date.parse(data.NotBefore ?? '');
      if (!Number.isNaN(notBefore) && now + CLOCK_SKEW_MS < notBefore)
        return `not valid before ${data.NotBefore ?? ''}`;
      return undefined;
    });
    if (!problems.includes(undefined)) {
      throw new ConnectorError(
        `SAML subject confirmation refused: ${problems.join('; ') || 'none present'}`,
        USER.invalid,
      );
    }
  }

  /** Dex's HandlePOST mapping: NameID is the user id, username and email attributes are required, groups as configured. */
  private identityOf(scopes: Scopes, profile: Profile): Identity {
    const attributes = attributesOf(profile);
    const names = [...attributes.keys()].join(', ');
    const first = (name: string): string => attributes.get(name)?.[0] ?? '';
    const userId = profile.nameID;
    if (typeof userId !== 'string' || userId === '')
      throw new ConnectorError('SAML assertion has no NameID', USER.attributes);
    // Dex logs what arrived, to debug IdP attribute mappings; values stay out (they are personal data).
    this.log.info({ attributes: names }, 'verified SAML response');
    const email = first(this.config.emailAttr);
    if (email === '')
      throw new ConnectorError(
        `no attribute with name ${JSON.stringify(this.config.emailAttr)}: [${names}]`,
        USER.attributes,
      );
    const username = first(this.config.usernameAttr);
    if (username === '')
      throw new ConnectorError(
        `no attribute with name ${JSON.stringify(this.config.usernameAttr)}: [${names}]`,
        USER.attributes,
      );
    // SAML has no email_verified: like Dex, trust the IdP that signed the assertion.
    const identity = { userId, username, email, emailVerified: true };
    const { groupsAttr, groupsDelim, allowedGroups, filterGroups } = this.config;
    if (allowedGroups.length === 0 && (!scopes.groups || groupsAttr === '')) return { ...identity, groups: [] };
    if (!scopes.groups || groupsAttr === '')
      throw new ConnectorError(
        'user not a member of allowed groups (groups not requested or groupsAttr unset)',
        USER.groups,
      );
    const values = attributes.get(groupsAttr);
    if (values === undefined)
      throw new ConnectorError(`no attribute with name ${JSON.stringify(groupsAttr)}: [${names}]`, USER.attributes);
    const groups = groupsDelim !== '' ? (values[0] ?? '').split(groupsDelim) : values;
    if (allowedGroups.length === 0) return { ...identity, groups };
    const matches = groups.filter((g) => allowedGroups.includes(g));
    if (matches.length === 0) throw new ConnectorError('user not a member of allowed groups', USER.groups);
    return { ...identity, groups: filterGroups ? matches : groups };
  }
}

/** Attribute values by name from node-saml's profile; values with markup instead of text are left out. */
function attributesOf(profile: Profile): Map<string, string[]> {
  const parsed = z.record(z.string(), z.unknown()).safeParse(profile.attributes);
  const out = new Map<string, string[]>();
  if (!parsed.success) return out;
  for (const [name, value] of Object.entries(parsed.data)) {
    out.set(
      name,
      (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string'),
    );
  }
  return out;
}

function parseLoginState(bytes: Uint8Array | undefined): LoginState | undefined {
  if (bytes === undefined) return undefined;
  try {
    const parsed = loginStateSchema.safeParse(JSON.parse(decoder.decode(bytes)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

// Building a request must not remember anything in this process: the id lives in the auth request (any replica).
const NO_CACHE: CacheProvider = {
  saveAsync: async () => null,
  getAsync: async () => null,
  removeAsync: async () => null,
};

/** A cache that knows only this login's request id; removal is the caller's job (the auth request's state is consumed). */
function singleRequestCache(state: LoginState): CacheProvider {
  return {
    saveAsync: async () => null,
    getAsync: async (key) => (key === state.requestId ? state.issuedAt : null),
    removeAsync: async () => null,
  };
}
