/**
 * An independent SAML 2.0 identity provider for tests, built on samlify (not on node-saml, which idport
 * uses, so the two sides check each other). It reads the AuthnRequest, and answers with a Response for a
 * chosen user, signed by samlify; options forge what idport must refuse. `startSamlIdp` serves it on
 * loopback: POST /sso (HTTP-POST binding) returns an auto-submitting form to the SP's ACS URL.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The parsed AuthnRequest samlify hands back; opaque except for the request id. */
interface SamlifyRequest {
  readonly extract: { readonly request?: unknown };
}
interface SamlifySp {
  readonly entityMeta: unknown;
}
interface SamlifyIdp {
  parseLoginRequest(sp: SamlifySp, binding: 'post', request: { body: Record<string, string> }): Promise<SamlifyRequest>;
  createLoginResponse(
    sp: SamlifySp,
    request: SamlifyRequest,
    binding: 'post',
    user: { email: string },
    options: {
      relayState: string;
      customTagReplacement: (template: string) => { id: string; context: string };
    },
  ): Promise<{ context: string }>;
}
/** The part of samlify's API this IdP uses. */
interface Samlify {
  setSchemaValidator(validator: { validate: (xml: string) => Promise<string> }): void;
  readonly Constants: { readonly namespace: { readonly binding: { readonly post: string } } };
  IdentityProvider(settings: Record<string, unknown>): SamlifyIdp;
  ServiceProvider(settings: Record<string, unknown>): SamlifySp;
  readonly SamlLib: {
    replaceTagsByValue(xml: string, values: Record<string, string>): string;
    readonly defaultLoginResponseTemplate: { readonly context: string };
  };
}
// Loaded without its type declarations: they reference @xmldom/xmldom, which adds lib.dom to the whole program
// and retypes Node's global fetch for every file (connectors/oidc/http.ts stops compiling).
const samlify = createRequire(import.meta.url)('samlify') as Samlify;

// The request is ours and trusted in tests; samlify's XSD validators need Java, so schema validation is skipped.
samlify.setSchemaValidator({ validate: () => Promise.resolve('skipped') });

const POST = samlify.Constants.namespace.binding.post;

/** An RSA key and self-signed certificate in PEM, made by openssl for one test run. */
export interface SigningKey {
  readonly privateKey: string;
  readonly certificate: string;
}

/** Makes a fresh signing key and certificate with openssl. */
export const makeSigningKey = (commonName = 'idport test IdP'): SigningKey => {
  const dir = mkdtempSync(join(tmpdir(), 'idport-saml-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-sha256',
        '-days',
        '2',
        '-subj',
        `/CN=${commonName}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      privateKey: readFileSync(join(dir, 'key.pem'), 'utf8'),
      certificate: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

/** The user the IdP vouches for. */
export interface SamlUser {
  readonly nameId: string;
  readonly email: string;
  readonly name: string;
  readonly groups: readonly string[];
}

/**
 * How to answer: which element samlify signs, and what to forge. `otherKey` signs with a key idport does
 * not trust; `unsigned` sends the XML with no signature at all.
 */
export interface ResponseOptions {
  readonly sign?: 'assertion' | 'response' | 'both';
  readonly forge?: 'wrongAudience' | 'wrongRecipient' | 'wrongIssuer' | 'otherKey' | 'expired' | 'unsigned';
  /** InResponseTo to claim instead of the request's id (forging an answer to another request). */
  readonly inResponseTo?: string;
  /** The Response's top-level StatusCode (Success unless given); the signed assertion is sent all the same. */
  readonly status?: string;
}

export interface SamlIdpOptions {
  /** The SP's entity ID (idport's `entityIssuer`). */
  readonly spEntityId: string;
  /** The SP's ACS URL (idport's `redirectURI`). */
  readonly acsUrl: string;
  readonly entityId?: string;
  /** Where the SSO endpoint will be; set by `startSamlIdp`. */
  readonly ssoUrl?: string;
  readonly user: SamlUser;
}

/** What the IdP sent last, for replay tests. */
export interface SentResponse {
  readonly samlResponse: string;
  readonly relayState: string;
  readonly action: string;
}

export interface SamlIdp {
  readonly entityId: string;
  readonly ssoUrl: string;
  /** The certificate idport must trust (`caData` is its base64). */
  readonly certificate: string;
  user: SamlUser;
  /** Applied to the next responses until changed. */
  responseOptions: ResponseOptions;
  /** Answers a base64 AuthnRequest (POST binding) with a base64 Response. */
  respond(samlRequest: string, relayState: string, options?: ResponseOptions): Promise<SentResponse>;
  readonly sent: SentResponse[];
}

const attributeXml = (name: string, tags: readonly string[]): string =>
  `<saml:Attribute Name="${name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${tags
    .map((tag) => `<saml:AttributeValue xsi:type="xs:string">{${tag}}</saml:AttributeValue>`)
    .join('')}</saml:Attribute>`;

/** Builds the IdP (no HTTP); `startSamlIdp` puts it on loopback. */
export const createSamlIdp = (options: SamlIdpOptions): SamlIdp => {
  const entityId = options.entityId ?? 'https://idp.test/metadata';
  const ssoUrl = options.ssoUrl ?? 'https://idp.test/sso';
  const trusted = makeSigningKey();
  const untrusted = makeSigningKey('impostor IdP');
  const idpFor = (key: SigningKey) =>
    samlify.IdentityProvider({
      entityID: entityId,
      privateKey: key.privateKey,
      signingCert: key.certificate,
      singleSignOnService: [{ Binding: POST, Location: ssoUrl }],
      singleLogoutService: [{ Binding: POST, Location: `${ssoUrl}/logout` }], // unused; samlify warns without one
      nameIDFormat: ['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
    });
  const spFor = (sign: NonNullable<ResponseOptions['sign']>) =>
    samlify.ServiceProvider({
      entityID: options.spEntityId,
      assertionConsumerService: [{ Binding: POST, Location: options.acsUrl }],
      wantAssertionsSigned: sign !== 'response',
      wantMessageSigned: sign !== 'assertion',
    });

  const idp: SamlIdp = {
    entityId,
    ssoUrl,
    certificate: trusted.certificate,
    user: options.user,
    responseOptions: {},
    sent: [],
    async respond(samlRequest, relayState, override) {
      const { sign = 'assertion', forge, inResponseTo, status } = override ?? idp.responseOptions;
      const sp = spFor(sign);
      const signer = idpFor(forge === 'otherKey' ? untrusted : trusted);
      const request = await signer.parseLoginRequest(sp, 'post', { body: { SAMLRequest: samlRequest } });
      const extracted = request.extract.request;
      const requestId =
        typeof extracted === 'object' && extracted !== null && 'id' in extracted ? extracted.id : undefined;
      if (typeof requestId !== 'string') throw new Error('AuthnRequest without an ID');
      const now = Date.now();
      const at = (offsetMinutes: number): string => new Date(now + offsetMinutes * 60_000).toISOString();
      // An expired assertion was issued 20 minutes ago and lapsed 15 minutes ago: far past the 30 s skew.
      const [issued, notAfter] = forge === 'expired' ? [at(-20), at(-15)] : [at(0), at(5)];
      const user = idp.user;
      const groupTags = user.groups.map((_g, i) => `group${i}`);
      const values: Record<string, string> = {
        ID: `_${randomUUID()}`,
        AssertionID: `_${randomUUID()}`,
        Destination: options.acsUrl,
        Audience: forge === 'wrongAudience' ? 'https://another-sp.test/metadata' : options.spEntityId,
        SubjectRecipient: forge === 'wrongRecipient' ? 'https://another-sp.test/acs' : options.acsUrl,
        Issuer: forge === 'wrongIssuer' ? 'https://impostor.test/metadata' : entityId,
        IssueInstant: issued,
        StatusCode: status ?? 'urn:oasis:names:tc:SAML:2.0:status:Success',
        ConditionsNotBefore: issued,
        ConditionsNotOnOrAfter: notAfter,
        SubjectConfirmationDataNotOnOrAfter: notAfter,
        NameIDFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
        NameID: user.nameId,
        InResponseTo: inResponseTo ?? requestId,
        attrEmail: user.email,
        attrName: user.name,
        ...Object.fromEntries(user.groups.map((g, i) => [`group${i}`, g])),
      };
      // Tags first (fixed markup), then values through samlify, which escapes them.
      const statement =
        `<saml:AuthnStatement AuthnInstant="${issued}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
        `<saml:AttributeStatement>${attributeXml('email', ['attrEmail'])}${attributeXml('name', ['attrName'])}${groupTags.length > 0 ? attributeXml('groups', groupTags) : ''}</saml:AttributeStatement>`;
      const render = (template: string): string =>
        samlify.SamlLib.replaceTagsByValue(
          template.replace('{AuthnStatement}', '').replace('{AttributeStatement}', statement),
          values,
        );
      let samlResponse: string;
      if (forge === 'unsigned') {
        samlResponse = Buffer.from(render(samlify.SamlLib.defaultLoginResponseTemplate.context), 'utf8').toString(
          'base64',
        );
      } else {
        const response = await signer.createLoginResponse(
          sp,
          request,
          'post',
          { email: user.email },
          {
            relayState,
            customTagReplacement: (template) => ({ id: values.ID ?? '', context: render(template) }),
          },
        );
        samlResponse = response.context;
      }
      const sent = { samlResponse, relayState, action: options.acsUrl };
      idp.sent.push(sent);
      return sent;
    },
  };
  return idp;
};

const escapeHtml = (value: string): string =>
  value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const readForm = async (request: IncomingMessage): Promise<URLSearchParams> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
};

/** A SAML IdP listening on loopback, with the users' "login" already done: POST /sso answers at once. */
export interface RunningSamlIdp extends SamlIdp {
  close(): Promise<void>;
}

/** Starts the IdP on a free loopback port. */
export const startSamlIdp = async (options: Omit<SamlIdpOptions, 'ssoUrl'>): Promise<RunningSamlIdp> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const idp = createSamlIdp({ ...options, ssoUrl: `http://127.0.0.1:${port}/sso` });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    void (async () => {
      try {
        if (request.method !== 'POST' || request.url !== '/sso') {
          response.writeHead(404).end();
          return;
        }
        const form = await readForm(request);
        const sent = await idp.respond(form.get('SAMLRequest') ?? '', form.get('RelayState') ?? '');
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
          .end(`<!doctype html><html><body onload="document.forms[0].submit()">
<form method="post" action="${escapeHtml(sent.action)}">
<input type="hidden" name="SAMLResponse" value="${escapeHtml(sent.samlResponse)}">
<input type="hidden" name="RelayState" value="${escapeHtml(sent.relayState)}">
<button type="submit">Continue</button>
</form></body></html>`);
      } catch (err: unknown) {
        response
          .writeHead(400, { 'content-type': 'text/plain' })
          .end(`IdP refused the request: ${err instanceof Error ? err.message : String(err)}`);
      }
    })();
  });
  return Object.assign(idp, { close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
};
