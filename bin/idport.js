#!/usr/bin/env node
// The package's `bin`: runs the TypeScript CLI through tsx's loader, the same way `npm start` does.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
