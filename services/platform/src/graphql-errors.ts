import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { DomainError, toGraphQLExtensions } from '@ledgerline/contracts';
import type { Logger } from 'pino';

/**
 * The one place domain errors become GraphQL errors: stable `extensions.code` (the category) and
 * `extensions.reason` (the domain code), plus the field at fault. Anything unexpected is logged
 * and hidden behind INTERNAL_SERVER_ERROR so no stack trace or SQL reaches a client. An INTERNAL domain error's
 * message is answered (it names the service that failed, never its address) and the error logged with its cause.
 */
export function createFormatError(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof DomainError) {
      // An INTERNAL one (another service down, …) tells the client which service only: where and why (its cause) are logged here.
      if (original.category === 'INTERNAL') logger.error({ err: original, path: formatted.path }, 'internal error answered');
      return { message: original.message, path: formatted.path, locations: formatted.locations, extensions: toGraphQLExtensions(original) };
    }
    const code = formatted.extensions?.code;
    if (code && code !== 'INTERNAL_SERVER_ERROR') return formatted;
    if (original instanceof GraphQLError && !original.originalError) return formatted;
    logger.error({ err: original, path: formatted.path }, 'unexpected error in resolver');
    return { message: 'Internal error', path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}
