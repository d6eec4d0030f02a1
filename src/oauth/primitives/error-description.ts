/** The wire form of an `error_description`, shared by the redirect and the JSON error channels. */

/**
 * RFC 6749 §4.1.2.1 and §5.2 allow only %x20-21 / %x23-5B / %x5D-7E in `error_description` (the conformance
 * suite checks it). Descriptions quote values with `"`, so those become `'`; anything else outside the set
 * (control characters, backslashes, non-ASCII from request values) becomes a space.
 */
export const wireDescription = (description: string): string =>
  description.replace(/"/g, "'").replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, ' ');
