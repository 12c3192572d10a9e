// Token signing and verification live in platform (the gateway and the events hub verify the same
// tokens); this module keeps the gateway's public `@ledgerline/gateway/auth` entry for the CLI. It
// reads platform's `jwt` entry alone: the whole platform (ORM, NATS, Apollo) took a CLI command a second to load.
export { AuthenticationError, callerFromAuthorization, DEV_JWT_SECRET, signToken, type TokenClaims } from '@ledgerline/platform/jwt';
