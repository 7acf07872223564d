/**
 * The control API's own refusals, before any of the party's work starts: a route that does not exist, a token
 * of another scope, a retired token, a Host header that is not the API's address. Each has its HTTP status and
 * a stable code, and renders like every other API error: `{ error: { code, message, culprits } }`.
 */
export type RefusalCode =
  /** No such route, request or resource. */
  | 'NOT_FOUND'
  /** The path exists, with other methods. */
  | 'METHOD_NOT_ALLOWED'
  /** The token is valid, but its scope does not grant this route. */
  | 'WRONG_SCOPE'
  /** The single token of the API before scoped tokens; it opens nothing now. */
  | 'TOKEN_RETIRED'
  /** The Host header names another address than the API's (a DNS-rebinding page, a proxy). */
  | 'WRONG_HOST'
  /** A console request without a live session cookie (node/console). */
  | 'NO_SESSION'
  /** A console POST from another origin, or without the session's CSRF token. */
  | 'CROSS_SITE';

const STATUS: Record<RefusalCode, number> = {
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  WRONG_SCOPE: 403,
  TOKEN_RETIRED: 401,
  WRONG_HOST: 403,
  NO_SESSION: 401,
  CROSS_SITE: 403,
};

export class ApiRefusal extends Error {
  readonly code: RefusalCode;
  readonly status: number;

  constructor(code: RefusalCode, message: string) {
    super(message);
    this.name = 'ApiRefusal';
    this.code = code;
    this.status = STATUS[code];
  }

  toJSON(): { code: RefusalCode; message: string; culprits: string[] } {
    return { code: this.code, message: this.message, culprits: [] };
  }
}
