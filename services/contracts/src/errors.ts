/**
 * Stable error codes. A use case throws `DomainError(code, message, { field })`; the GraphQL
 * layer maps the category to `extensions.code` and Temporal activities map it to a
 * non-retryable ApplicationFailure. Codes are part of the public API: never rename one.
 */
export type ErrorCategory = 'BAD_USER_INPUT' | 'NOT_FOUND' | 'CONFLICT' | 'FORBIDDEN' | 'UNAUTHENTICATED' | 'INTERNAL';

const CATEGORY_BY_PREFIX: [RegExp, ErrorCategory][] = [
  [/_NOT_FOUND$|^NOT_FOUND$/, 'NOT_FOUND'],
  [/_CONFLICT$|^CONFLICT$|_ILLEGAL_TRANSITION$|_ALREADY_|IDEMPOTENCY_KEY_REUSED$|_DUPLICATE$/, 'CONFLICT'],
  [/^FORBIDDEN$|_FORBIDDEN$/, 'FORBIDDEN'],
  [/^UNAUTHENTICATED$/, 'UNAUTHENTICATED'],
  [/^INTERNAL$/, 'INTERNAL'],
];

export interface DomainErrorDetails {
  /** The input field at fault, as a dotted path a client can show next to the field. */
  field?: string;
  [key: string]: unknown;
}

export class DomainError extends Error {
  readonly code: string;
  readonly category: ErrorCategory;
  readonly details: DomainErrorDetails;

  constructor(code: string, message: string, details: DomainErrorDetails = {}, category?: ErrorCategory, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DomainError';
    this.code = code;
    this.details = details;
    this.category = category ?? categorize(code);
  }
}

export function categorize(code: string): ErrorCategory {
  for (const [pattern, category] of CATEGORY_BY_PREFIX) if (pattern.test(code)) return category;
  return 'BAD_USER_INPUT';
}

export const notFound = (entity: string, id: string, field = 'id'): DomainError =>
  new DomainError(`${entity.toUpperCase()}_NOT_FOUND`, `${entity} ${id} does not exist`, { field });

/**
 * Another service (or system) did not answer usefully: INTERNAL. The message names the service only and reaches
 * the client as it is; where it runs and what went wrong (`address`, `cause`) become the error's `cause`, which the
 * GraphQL error formatter logs and never answers. Never put an address into the message itself.
 */
export function dependencyUnavailable(code: string, message: string, address: string, cause: unknown, details: DomainErrorDetails = {}): DomainError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new DomainError(code, message, details, 'INTERNAL', { cause: new Error(`${address}: ${why}`, { cause }) });
}

export const badInput = (field: string, message: string, code = 'INVALID_INPUT'): DomainError =>
  new DomainError(code, message, { field }, 'BAD_USER_INPUT');

export const conflict = (code: string, message: string, details: DomainErrorDetails = {}): DomainError =>
  new DomainError(code, message, details, 'CONFLICT');

/** The shape GraphQL errors carry in `extensions`. */
export function toGraphQLExtensions(error: DomainError): Record<string, unknown> {
  return { code: error.category, reason: error.code, ...error.details };
}
