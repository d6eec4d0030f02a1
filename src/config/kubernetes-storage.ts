/**
 * `storage.config` for `type: kubernetes` (Dex's storage/kubernetes Config): exactly one of `inCluster`
 * and `kubeConfigFile`, and `crdHandling`. Its own file so the storage sections stay small.
 */
import { z } from 'zod';
import { nonEmptyText, text } from './fields.js';

export const kubernetesConfigSchema = z
  .strictObject({
    /** Use the pod's service account and KUBERNETES_SERVICE_HOST/PORT. */
    inCluster: z.boolean().default(false),
    /** A kubeconfig file; its current context names the cluster, user and namespace. */
    kubeConfigFile: nonEmptyText().optional(),
    /** `ensure` creates missing CRDs at start (Dex's default); `check` refuses to start without them. */
    crdHandling: text(z.enum(['ensure', 'check'])).default('ensure'),
  })
  .superRefine((k, ctx) => {
    // Dex's messages (storage/kubernetes/storage.go).
    if (k.inCluster && k.kubeConfigFile !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['kubeConfigFile'],
        message: "cannot specify both 'inCluster' and 'kubeConfigFile'",
      });
    if (!k.inCluster && k.kubeConfigFile === undefined)
      ctx.addIssue({ code: 'custom', path: [], message: "must specify either 'inCluster' or 'kubeConfigFile'" });
  });
