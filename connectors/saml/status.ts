/**
 * The top-level StatusCode of a SAML Response (SAML core §3.2.2.2). node-saml reads the status only when the
 * response carries no assertion, so a Responder status beside a validly signed assertion would log the user in;
 * Dex refuses any status but Success. Only the Response element's own Status child counts, never one inside an
 * assertion or a wrapped element. Parsed with node-saml's own parser (xml2js, prefixes stripped), as node-saml
 * parses the status itself.
 */
import { parseXml2JsFromString } from '@node-saml/node-saml/lib/xml.js';
import { z } from 'zod';

export const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

interface StatusCodeNode {
  readonly $?: { readonly Value?: string } | undefined;
  readonly StatusCode?: readonly StatusCodeNode[] | undefined;
}
const statusCodeSchema: z.ZodType<StatusCodeNode> = z.lazy(() =>
  z.object({
    $: z.object({ Value: z.string().optional() }).optional(),
    StatusCode: z.array(statusCodeSchema).optional(),
  }),
);
const responseSchema = z.object({
  Response: z.object({ Status: z.array(z.object({ StatusCode: z.array(statusCodeSchema).optional() })).optional() }),
});

/**
 * The top-level status of a base64 SAMLResponse: its StatusCode Value and, when present, the nested (second-level)
 * code; undefined when the document is no Response or has no readable status (node-saml then judges it).
 */
export const topLevelStatus = async (samlResponse: string): Promise<{ code: string; detail?: string } | undefined> => {
  let parsed: unknown;
  try {
    parsed = await parseXml2JsFromString(Buffer.from(samlResponse, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  const response = responseSchema.safeParse(parsed);
  if (!response.success) return undefined;
  const code = response.data.Response.Status?.[0]?.StatusCode?.[0];
  if (code?.$?.Value === undefined) return undefined;
  const detail = code.StatusCode?.[0]?.$?.Value;
  return { code: code.$.Value, ...(detail !== undefined && detail !== '' ? { detail } : {}) };
};
