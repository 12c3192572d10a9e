import { DomainError } from '@ledgerline/contracts';
import { callerHeaders, DEV_INTERNAL_SECRET, graphqlRequest, SYSTEM_CALLER } from '@ledgerline/platform';

/** A one-off purchase paid from a prepaid wallet (an add-on), keyed by its one-off charge id. */
export interface PurchaseCharge {
  chargeId: string;
  billingAccountId: string;
  lineId: string;
  amount: string;
  currency: string;
  occurredAt: Date;
}

export interface BucketGrant {
  billingAccountId: string;
  lineId: string | null;
  allowanceId: string;
  name: string;
  unit: string;
  quantity: string;
  validFrom: Date;
  validTo: Date;
  /** One bucket per key: a retried order step grants nothing twice. */
  grantKey: string;
}

/** What orders need from the wallets service. The two writes are idempotent. */
export interface WalletsPort {
  chargePurchase(charge: PurchaseCharge): Promise<{ outcome: 'APPLIED' | 'PARTIAL' | 'DENIED'; reason: string | null }>;
  grantBucket(grant: BucketGrant): Promise<void>;
  /**
   * The allowance period wallets is in for a subscription (what a prepaid balance paid for), or
   * null when wallets does not know the subscription (yet).
   */
  allowancePeriod(billingAccountId: string, subscriptionId: string): Promise<{ start: Date; end: Date } | null>;
}

const APPLY = /* GraphQL */ `mutation($i: ApplyChargeInput!) { applyCharge(input: $i) { result { outcome reason } } }`;
const GRANT = /* GraphQL */ `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`;
const PERIODS = /* GraphQL */ `query($i: [_Any!]!) { _entities(representations: $i) { ... on BillingAccount { allowancePeriods { subscriptionId periodStart periodEnd } } } }`;

/** GraphQL over HTTP to the wallets subgraph, as the SYSTEM caller. */
export class GraphqlWalletsClient implements WalletsPort {
  /** Signed afresh for every request: a signed caller goes stale (LEDGERLINE_CALLER_MAX_AGE_SECONDS). */
  private readonly headers: () => Record<string, string>;
  constructor(
    private readonly url: string,
    secret: string,
  ) {
    this.headers = () => callerHeaders(SYSTEM_CALLER, secret);
  }

  /** The wallets service at WALLETS_URL, or none (orders then settle nothing in wallets: development without it). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): GraphqlWalletsClient | null {
    return env.WALLETS_URL ? new GraphqlWalletsClient(env.WALLETS_URL, env.LEDGERLINE_INTERNAL_SECRET ?? DEV_INTERNAL_SECRET) : null;
  }

  private async call<T>(query: string, input: unknown): Promise<T> {
    let result: Awaited<ReturnType<typeof graphqlRequest<T>>>;
    try {
      result = await graphqlRequest<T>(this.url, query, { i: input }, { headers: this.headers() });
    } catch (error) {
      throw new DomainError('WALLETS_UNAVAILABLE', `The wallets service at ${this.url} cannot be reached: ${(error as Error).message}`, { retryable: true }, 'INTERNAL');
    }
    if (result.errors?.length || !result.data) throw new DomainError('WALLETS_UNAVAILABLE', `The wallets service answered with an error: ${result.errors?.[0]?.message ?? 'no data'}`, { retryable: true }, 'INTERNAL');
    return result.data;
  }

  async chargePurchase(c: PurchaseCharge) {
    const d = await this.call<{ applyCharge: { result: { outcome: 'APPLIED' | 'PARTIAL' | 'DENIED'; reason: string | null } } }>(APPLY, {
      chargeId: c.chargeId,
      billingAccountId: c.billingAccountId,
      lineId: c.lineId,
      paymentMode: 'PREPAID',
      currency: c.currency,
      usageType: 'ADD_ON',
      occurredAt: c.occurredAt.toISOString(),
      units: '1',
      unit: 'ITEM',
      allowanceIds: [],
      pricePerUnit: c.amount,
      allowOverdraft: false,
    });
    return d.applyCharge.result;
  }

  async grantBucket(g: BucketGrant) {
    await this.call(GRANT, { ...g, validFrom: g.validFrom.toISOString(), validTo: g.validTo.toISOString() });
  }

  async allowancePeriod(billingAccountId: string, subscriptionId: string) {
    const d = await this.call<{ _entities: ({ allowancePeriods: { subscriptionId: string; periodStart: string; periodEnd: string }[] } | null)[] }>(PERIODS, [{ __typename: 'BillingAccount', id: billingAccountId }]);
    const p = d._entities[0]?.allowancePeriods.find((a) => a.subscriptionId === subscriptionId);
    return p ? { start: new Date(p.periodStart), end: new Date(p.periodEnd) } : null;
  }
}
