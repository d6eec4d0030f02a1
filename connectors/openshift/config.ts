/** The `openshift` connector's config: Dex's keys (connector/openshift/openshift.go), checked at startup. */
import { z } from 'zod';

/** The `openshift` connector's config (Dex's `openshift.Config`). */
export const configSchema = z.strictObject({
  /** The cluster's API server, e.g. https://api.mycluster.example.com:6443; its OAuth server is discovered from it. */
  issuer: z.url(),
  clientID: z.string().min(1),
  clientSecret: z.string().min(1),
  /** Must equal idport's callback URL (`<issuer>/callback`), one of the OAuthClient's redirectURIs. */
  redirectURI: z.url(),
  /** When set, only members of at least one of these OpenShift groups may log in. */
  groups: z.array(z.string()).nullable().default([]),
  /** Skip verifying the cluster's TLS certificate (Dex's name for insecureSkipVerify). */
  insecureCA: z.boolean().default(false),
  /** The cluster's CA: a file path, base64 of PEM, or PEM text. */
  rootCA: z.string().default(''),
});

/** The parsed `openshift` connector config. */
export type OpenshiftConfig = z.infer<typeof configSchema>;
