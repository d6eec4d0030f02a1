#!/usr/bin/env node
// `dex`, beside `idport`: manifests written for Dex run `dex serve /etc/dex/config.yaml`. The same CLI,
// which also accepts (and drops) a leading `dex` argument, as Dex's image entrypoint passes one.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
