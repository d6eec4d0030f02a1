/**
 * Counts the JWS signatures a test idport makes, by wrapping its signer's `sign`: each one is an RSA or ECDSA
 * operation, so a response that signs a token it never delivers costs a request its most expensive step twice.
 */
import type { Provider } from '../../src/oauth/provider.js';

export interface SignatureCount {
  /** Signatures made since the count started, by token `typ` (`JWT` for ID tokens, `at+jwt` for access tokens). */
  readonly byType: () => Readonly<Record<string, number>>;
  /** Puts the signer's own `sign` back. */
  readonly stop: () => void;
}

export const countSignatures = (provider: Provider): SignatureCount => {
  const { signer } = provider;
  const original = signer.sign;
  const counts: Record<string, number> = {};
  signer.sign = (payload, header) => {
    const typ = header?.typ ?? 'none';
    counts[typ] = (counts[typ] ?? 0) + 1;
    return original.call(signer, payload, header);
  };
  return { byType: () => ({ ...counts }), stop: () => void (signer.sign = original) };
};
