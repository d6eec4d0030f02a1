/**
 * A browser request that cannot be answered with a redirect to the client: the browser gets an error page. The
 * error names what went wrong with a code; web/page-errors.ts turns the code into the sentence a person reads, so no
 * UI wording lives in protocol code.
 */
import type { PageErrorCode, PageErrorParams } from '../../../web/page-errors.js';

export type { PageErrorCode, PageErrorParams } from '../../../web/page-errors.js';

export class PageError extends Error {
  readonly code: PageErrorCode;
  /** Values the page's sentence quotes, e.g. the unknown client id. */
  readonly params: PageErrorParams;
  constructor(code: PageErrorCode, params: PageErrorParams = {}) {
    super(code);
    this.name = 'PageError';
    this.code = code;
    this.params = params;
  }
}
