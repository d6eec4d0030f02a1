/** The mock connectors' config schemas: zod only, so validating a config never loads the connectors. */
import { z } from 'zod';

/** `mockCallback` takes no settings; an absent config is accepted by the registry, as in Dex. */
export const mockCallbackConfigSchema = z.strictObject({});

/** `mockPassword` settings: the one username and password it accepts (Dex requires both). */
export const mockPasswordConfigSchema = z.strictObject({
  username: z.string().min(1, 'no username supplied'),
  password: z.string().min(1, 'no password supplied'),
});
