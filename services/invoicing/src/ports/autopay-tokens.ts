import { DomainError } from '@ledgerline/contracts';
import { callerHeaders, DEV_INTERNAL_SECRET, graphqlRequest, SYSTEM_CALLER } from '@ledgerline/platform';

/** Where the due-date job finds the payment-provider token of an account with autopay on file. */
export interface AutopayTokens {
  /** The token, or null when the account has none (any more). Throws when it cannot be asked. */
  tokenOf(billingAccountId: string): Promise<string | null>;
}

const QUERY = /* GraphQL */ `query($id: ID!) { autopayToken(billingAccountId: $id) }`;

/** Subscribers (the account's owner) over GraphQL as SYSTEM, straight to its subgraph: the field is not in the gateway's API. */
export class SubscribersAutopayTokens implements AutopayTokens {
  /** Signed afresh for every request: a signed caller goes stale (LEDGERLINE_CALLER_MAX_AGE_SECONDS). */
  private readonly headers: () => Record<string, string>;
  constructor(
    private readonly url: string,
    secret: string,
  ) {
    this.headers = () => callerHeaders(SYSTEM_CALLER, secret);
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): SubscribersAutopayTokens | null {
    return env.SUBSCRIBERS_URL ? new SubscribersAutopayTokens(env.SUBSCRIBERS_URL, env.LEDGERLINE_INTERNAL_SECRET ?? DEV_INTERNAL_SECRET) : null;
  }

  async tokenOf(billingAccountId: string): Promise<string | null> {
    const r = await graphqlRequest<{ autopayToken: string | null }>(this.url, QUERY, { id: billingAccountId }, { headers: this.headers() });
    if (r.errors?.length || !r.data) throw new DomainError('SUBSCRIBERS_UNAVAILABLE', `subscribers did not give the autopay token: ${r.errors?.[0]?.message ?? 'no data'}`, { retryable: true }, 'INTERNAL');
    return r.data.autopayToken;
  }
}
