/**
 * `grpc`: Dex's gRPC API listener (cmd/dex/config.go GRPC), with Dex's keys, defaults and error texts. As in Go, an
 * empty string is "not set"; without `addr` no API is served.
 */
import { z } from 'zod';
import { evenWithOtherErrors, listenAddress, parsedCleanly, text } from './fields.js';

const TLS_VERSIONS = ['1.2', '1.3'] as const;

/** "" is Go's zero value: the key is as good as absent. */
const unsetIfEmpty = (value: unknown): unknown => (value === '' ? undefined : value);
const optionalText = () => z.preprocess(unsetIfEmpty, text().optional());
const tlsVersion = () =>
  z.preprocess(unsetIfEmpty, text(z.enum(TLS_VERSIONS, { error: 'supported TLS versions are: 1.2, 1.3' })).optional());

export const grpcSchema = z
  .strictObject({
    /** host:port of the API listener; unset: no API. */
    addr: z.preprocess(unsetIfEmpty, listenAddress().optional()),
    /** Server certificate and key (PEM files); both or neither. Without them the API is plaintext. */
    tlsCert: optionalText(),
    tlsKey: optionalText(),
    /** CA (PEM file) that client certificates must chain to; when set, a client certificate is required. */
    tlsClientCA: optionalText(),
    tlsMinVersion: tlsVersion(),
    tlsMaxVersion: tlsVersion(),
    /** gRPC server reflection (for grpcurl without the proto file); off unless true. */
    reflection: z.boolean().default(false),
  })
  .superRefine((grpc, ctx) => {
    const clean = (key: string): boolean => parsedCleanly(ctx.issues, key);
    const issue = (path: string, message: string): void =>
      ctx.addIssue({ code: 'custom', path: [path], input: grpc[path as keyof typeof grpc], message });
    if (!['addr', 'tlsCert', 'tlsKey', 'tlsClientCA'].every(clean)) return;
    // Dex's checks and texts (cmd/dex/config.go Config.Validate).
    if ((grpc.tlsCert !== undefined || grpc.tlsKey !== undefined) && grpc.addr === undefined)
      issue('addr', 'no address specified for gRPC');
    if ((grpc.tlsCert === undefined) !== (grpc.tlsKey === undefined))
      issue(grpc.tlsCert === undefined ? 'tlsCert' : 'tlsKey', 'must specific both a gRPC TLS cert and key');
    if (grpc.tlsCert === undefined && grpc.tlsClientCA !== undefined)
      issue('tlsClientCA', 'cannot specify gRPC TLS client CA without a gRPC TLS cert');
    if (
      clean('tlsMinVersion') &&
      clean('tlsMaxVersion') &&
      grpc.tlsMinVersion !== undefined &&
      grpc.tlsMaxVersion !== undefined &&
      grpc.tlsMinVersion > grpc.tlsMaxVersion
    )
      issue('tlsMinVersion', 'TLSMinVersion greater than TLSMaxVersion');
  }, evenWithOtherErrors('mapping'))
  .prefault({});

/** The parsed `grpc` section. */
export type GrpcConfig = z.infer<typeof grpcSchema>;
