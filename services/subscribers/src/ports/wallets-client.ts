import { DomainError, dependencyUnavailable } from '@ledgerline/contracts';
import { callerHeaders, DEV_INTERNAL_SECRET, SYSTEM_CALLER } from '@ledgerline/platform';

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

/** What wallets answers for a charge id it was asked to close: the charge it decided under the id, or none (`outcome` null: never reached it, and now never will). */
export interface ClosedCharge {
  /** Wallets took the charge (APPLIED or PARTIAL). */
  taken: boolean;
  outcome: 'APPLIED' | 'PARTIAL' | 'DENIED' | null;
}

/** A subscription's allowance period as wallets has it, with the fee taken for it (what an unused-days refund prorates). */
export interface AllowancePeriodAnswer {
  start: Date;
  end: Date;
  /** The fee the period's fee transaction took from the balance (wallets' `periodFeeTaken`), or null: none taken. */
  feeTaken: string | null;
  /**
   * The terms that fee was taken under, as wallets keeps them with it (`AllowancePeriod.feeProration`):
   * whether its unused days come back (DAILY) or not (NONE). Null: no fee taken, or one taken before
   * wallets recorded its terms (the plan version's terms decide then, as wallets does).
   */
  feeProration: 'DAILY' | 'NONE' | null;
}

/** What orders need from the wallets service. Every write is idempotent. */
export interface WalletsPort {
  chargePurchase(charge: PurchaseCharge): Promise<{ outcome: 'APPLIED' | 'PARTIAL' | 'DENIED'; reason: string | null }>;
  grantBucket(grant: BucketGrant): Promise<void>;
  /**
   * Settles a charge id before its money is given back: the charge wallets took under it, or the id
   * closed so that a late copy of the charge is refused (DENIED, CHARGE_CLOSED) and never taken.
   */
  closeCharge(chargeId: string, billingAccountId: string): Promise<ClosedCharge>;
  /** Takes back the bucket granted under the key (REVOKED, its units gone), or closes the key so a late grant is refused. */
  revokeGrant(grantKey: string, billingAccountId: string): Promise<void>;
  /**
   * The allowance period wallets is in for a subscription (what a prepaid balance paid for) and the
   * fee its ledger took for that period (a decimal string; null: none taken) with the terms it was
   * taken under (`feeProration`), or null when wallets
   * does not know the subscription (yet).
   */
  allowancePeriod(billingAccountId: string, subscriptionId: string): Promise<AllowancePeriodAnswer | null>;
}

const APPLY = /* GraphQL */ `mutation($i: ApplyChargeInput!) { applyCharge(input: $i) { result { outcome reason } } }`;
const GRANT = /* GraphQL */ `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`;
const CLOSE_CHARGE = /* GraphQL */ `mutation($i: CloseChargeInput!) { closeCharge(input: $i) { taken outcome } }`;
const REVOKE_GRANT = /* GraphQL */ `mutation($i: RevokeBucketGrantInput!) { revokeBucketGrant(input: $i) { unitsRevoked } }`;

/**
 * Wallets' answers that are final: it understood the request and refused it (bad input, a key used
 * for something else, a closed charge or revoked grant, an unknown account). Asking again gets the
 * same answer, so they are not an outage: the caller sees wallets' own code (`reason`) and message,
 * not retryable. Anything else (no answer, HTTP 5xx, INTERNAL, an unknown or missing code, a schema
 * wallets does not have yet during a deploy) is WALLETS_UNAVAILABLE, retryable.
 */
const FINAL_CODES = new Set(['BAD_USER_INPUT', 'CONFLICT', 'NOT_FOUND']);

interface GraphqlAnswer<T> {
  data?: T | null;
  errors?: { message?: string; extensions?: { code?: unknown; reason?: unknown } }[];
}

/** A wallets GraphQL answer (HTTP status and body) as data, or the DomainError it stands for. */
export function walletsAnswer<T>(url: string, status: number, body: string): T {
  // The caller is told what happened, not where wallets runs or what it said: those are logged (the error's cause).
  const unavailable = (what: string, said: string) => dependencyUnavailable('WALLETS_UNAVAILABLE', `The wallets service ${what}; try again later`, url, said, { retryable: true });
  let answer: GraphqlAnswer<T>;
  try {
    answer = JSON.parse(body) as GraphqlAnswer<T>;
  } catch {
    throw unavailable(`answered ${status} with non-JSON`, body.slice(0, 200));
  }
  const first = answer?.errors?.[0];
  const code = typeof first?.extensions?.code === 'string' ? first.extensions.code : null;
  if (status < 500 && first && code && FINAL_CODES.has(code)) {
    const reason = typeof first.extensions?.reason === 'string' && first.extensions.reason ? first.extensions.reason : code;
    // Wallets' field names its own input, not the caller's: left out.
    throw new DomainError(reason, first.message ?? `The wallets service refused the request (${reason})`, { retryable: false }, code as 'BAD_USER_INPUT' | 'CONFLICT' | 'NOT_FOUND');
  }
  if (first || status >= 400 || !answer?.data) throw unavailable(`answered with an error${status >= 400 ? ` (HTTP ${status})` : ''}`, `${first?.message ?? 'no data'}${code ? ` [${code}]` : ''}`);
  return answer.data;
}
const PERIODS = /* GraphQL */ `query($i: [_Any!]!) { _entities(representations: $i) { ... on BillingAccount { allowancePeriods { subscriptionId periodStart periodEnd feeTaken { amount } feeProration } } } }`;

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
    let status: number;
    let body: string;
    try {
      const response = await fetch(this.url, { method: 'POST', headers: { 'content-type': 'application/json', ...this.headers() }, body: JSON.stringify({ query, variables: { i: input } }) });
      status = response.status;
      body = await response.text();
    } catch (error) {
      throw dependencyUnavailable('WALLETS_UNAVAILABLE', 'The wallets service cannot be reached; try again later', this.url, error, { retryable: true });
    }
    return walletsAnswer<T>(this.url, status, body);
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

  async closeCharge(chargeId: string, billingAccountId: string): Promise<ClosedCharge> {
    const d = await this.call<{ closeCharge: ClosedCharge }>(CLOSE_CHARGE, { chargeId, billingAccountId });
    return d.closeCharge;
  }

  async revokeGrant(grantKey: string, billingAccountId: string) {
    await this.call(REVOKE_GRANT, { grantKey, billingAccountId });
  }

  async allowancePeriod(billingAccountId: string, subscriptionId: string): Promise<AllowancePeriodAnswer | null> {
    type Period = { subscriptionId: string; periodStart: string; periodEnd: string; feeTaken: { amount: string } | null; feeProration: 'DAILY' | 'NONE' | null };
    const d = await this.call<{ _entities: ({ allowancePeriods: Period[] } | null)[] }>(PERIODS, [
      { __typename: 'BillingAccount', id: billingAccountId },
    ]);
    const p = d._entities[0]?.allowancePeriods.find((a) => a.subscriptionId === subscriptionId);
    return p ? { start: new Date(p.periodStart), end: new Date(p.periodEnd), feeTaken: p.feeTaken?.amount ?? null, feeProration: p.feeProration ?? null } : null;
  }
}
