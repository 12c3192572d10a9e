import { DomainError, dependencyUnavailable, type Caller } from '@ledgerline/contracts';
import { callerHeaders, DEV_INTERNAL_SECRET, graphqlRequest, SYSTEM_CALLER } from '@ledgerline/platform';

/**
 * The plan's lifecycle status in the catalog (TMF620 ProductOffering.lifecycleStatus): PUBLISHED is
 * on sale; RETIRED is no longer sold, but its versions stay readable for the lines already on it.
 */
export type PlanLifecycleStatus = 'PUBLISHED' | 'RETIRED';

export interface CatalogPlanVersion {
  planId: string;
  code: string;
  /** Whether the plan is still sold (see `PlanLifecycleStatus`); `findPlan` refuses a RETIRED one. */
  planStatus: PlanLifecycleStatus;
  paymentMode: 'PREPAID' | 'POSTPAID';
  currency: string;
  versionId: string;
  version: number;
  /** The published plan document (JSON rules). */
  document: unknown;
}

/**
 * A plan published for a later date: it exists, but no version is in force yet (catalog's plan
 * status SCHEDULED), so nothing can be sold on it before `effectiveFrom`.
 */
export interface CatalogPlanNotYetEffective {
  code: string;
  /** When its first published version takes effect (the earliest still to come). */
  effectiveFrom: Date;
}

/** The only way subscribers reads plans: from the catalog service, never its database. */
export interface CatalogClient {
  /**
   * The newest published version of a plan, with the plan's status (a RETIRED plan keeps its
   * versions), or null if the plan does not exist or has none.
   */
  currentPlanVersion(code: string): Promise<CatalogPlanVersion | null>;
  /**
   * For a code `currentPlanVersion` answered null: the plan, if it exists but its only published
   * versions take effect later (PUBLISHED with a future effectiveFrom, or SCHEDULED), with the
   * earliest such date; null for a plan that does not exist, a draft, a retired plan, or one with
   * a version in force. Optional so that stand-ins need not answer it: without it, such a plan
   * reads as not found.
   */
  planNotYetEffective?(code: string): Promise<CatalogPlanNotYetEffective | null>;
  /** A published version's document, by id (immutable, so it may be cached). */
  planVersionDocument(id: string): Promise<unknown | null>;
  /** An add-on offer (data boost, roaming pass), or null. */
  offer(code: string): Promise<CatalogOffer | null>;
}

/**
 * The catalog as a caller who is not staff may know it. The catalog shows plans scheduled for a
 * later date to staff only (a launch or price rise is not public before its date; subscribers asks
 * it as SYSTEM, so the rule is applied here): `planNotYetEffective` is left out, so `findPlan`
 * answers such a plan as a code that does not exist (NOT_FOUND), without its date. Everything else
 * is the catalog's own answer.
 */
export function catalogForPublic(catalog: CatalogClient): CatalogClient {
  return {
    currentPlanVersion: (code) => catalog.currentPlanVersion(code),
    planVersionDocument: (id) => catalog.planVersionDocument(id),
    offer: (code) => catalog.offer(code),
  };
}

export interface CatalogOffer {
  code: string;
  /** What customers see, e.g. "Data Boost 5 GB". */
  name: string;
  currency: string;
  /** Decimal string in `currency`. */
  price: string;
  validityDays: number;
  /** Plan codes the offer may be bought on; empty = any. */
  compatiblePlans: string[];
  /** Units the add-on grants, each valid `validityDays` (or its own `days`) from the purchase. */
  allowances: OfferAllowance[];
  /** RETIRED (catalog's retireOffer): no longer sold or offered; add-ons bought before run on. Absent: ACTIVE. */
  status?: 'ACTIVE' | 'RETIRED';
}

export interface OfferAllowance {
  id: string;
  name: string | null;
  unit: string;
  quantity: string;
  days: number | null;
}

/** Reads an offer document (catalog/offers/*.json shape). */
export function offerFromDocument(document: unknown): CatalogOffer {
  const d = (document ?? {}) as { code?: string; name?: string; currency?: string; price?: string; validityDays?: number; compatiblePlans?: string[]; allowances?: { id: string; name?: string; unit: string; quantity: string; validity?: { days?: number } }[] };
  const allowances = (Array.isArray(d.allowances) ? d.allowances : []).map((a) => ({ id: a.id, name: a.name ?? null, unit: a.unit, quantity: String(a.quantity), days: a.validity?.days ?? null }));
  return { code: String(d.code), name: String(d.name ?? d.code), currency: String(d.currency), price: String(d.price ?? '0'), validityDays: Number(d.validityDays ?? 30), compatiblePlans: Array.isArray(d.compatiblePlans) ? d.compatiblePlans : [], allowances };
}

const PLAN_QUERY = /* GraphQL */ `
  query SubscribersPlan($code: String!) {
    plan(code: $code) { id code status paymentMode currency currentVersion { id version document } }
  }
`;
const UPCOMING_QUERY = /* GraphQL */ `
  query SubscribersUpcomingPlan($code: String!) {
    plan(code: $code) { code status currentVersion { id } versions { status effectiveFrom } }
  }
`;
const OFFER_QUERY = /* GraphQL */ `
  query SubscribersOffer($code: String!) {
    offer(code: $code) { code document status }
  }
`;
const VERSION_QUERY = /* GraphQL */ `
  query SubscribersPlanVersion($id: ID!) {
    planVersion(id: $id) { id document }
  }
`;

/** GraphQL over HTTP to the catalog subgraph, as the SYSTEM caller. */
export class GraphqlCatalogClient implements CatalogClient {
  private readonly versions = new Map<string, unknown>();
  /** Signed afresh for every request: a signed caller goes stale (LEDGERLINE_CALLER_MAX_AGE_SECONDS). */
  private readonly headers: () => Record<string, string>;

  constructor(
    private readonly url: string,
    secret: string,
    caller: Caller = SYSTEM_CALLER,
    private readonly timeoutMs = 5000,
  ) {
    this.headers = () => callerHeaders(caller, secret);
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): GraphqlCatalogClient {
    return new GraphqlCatalogClient(env.CATALOG_URL ?? 'http://127.0.0.1:4001/graphql', env.LEDGERLINE_INTERNAL_SECRET ?? DEV_INTERNAL_SECRET);
  }

  private async query<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    let result: Awaited<ReturnType<typeof graphqlRequest<T>>>;
    try {
      result = await Promise.race([
        graphqlRequest<T>(this.url, query, variables, { headers: this.headers() }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs).unref()),
      ]);
    } catch (error) {
      throw dependencyUnavailable('CATALOG_UNAVAILABLE', 'The plan catalog cannot be reached; try again later', this.url, error);
    }
    if (result.errors?.length || !result.data) {
      throw new DomainError('CATALOG_UNAVAILABLE', `The plan catalog answered with an error: ${result.errors?.[0]?.message ?? 'no data'}`, {}, 'INTERNAL');
    }
    return result.data;
  }

  async currentPlanVersion(code: string): Promise<CatalogPlanVersion | null> {
    const data = await this.query<{ plan: null | { id: string; code: string; status: PlanLifecycleStatus | 'DRAFT'; paymentMode: 'PREPAID' | 'POSTPAID'; currency: string; currentVersion: null | { id: string; version: number; document: unknown } } }>(PLAN_QUERY, { code });
    const plan = data.plan;
    // A plan never published (DRAFT) has no current version either: not a plan to be had.
    if (!plan || !plan.currentVersion || plan.status === 'DRAFT') return null;
    this.versions.set(plan.currentVersion.id, plan.currentVersion.document);
    return { planId: plan.id, code: plan.code, planStatus: plan.status, paymentMode: plan.paymentMode, currency: plan.currency, versionId: plan.currentVersion.id, version: plan.currentVersion.version, document: plan.currentVersion.document };
  }

  async planNotYetEffective(code: string): Promise<CatalogPlanNotYetEffective | null> {
    const data = await this.query<{ plan: null | { code: string; status: string; currentVersion: null | { id: string }; versions: { status: string; effectiveFrom: string | null }[] } }>(UPCOMING_QUERY, { code });
    const plan = data.plan;
    // Only a plan still to come: not a draft (never published), not a retired one, not one in force.
    if (!plan || plan.currentVersion || (plan.status !== 'PUBLISHED' && plan.status !== 'SCHEDULED')) return null;
    // With no version in force (catalog's clock), every PUBLISHED (or SCHEDULED) version is dated later; CANCELLED ones never take effect.
    const dates = plan.versions
      .filter((v) => (v.status === 'PUBLISHED' || v.status === 'SCHEDULED') && v.effectiveFrom)
      .map((v) => new Date(v.effectiveFrom!))
      .sort((a, b) => a.getTime() - b.getTime());
    return dates.length ? { code: plan.code, effectiveFrom: dates[0]! } : null;
  }

  async offer(code: string): Promise<CatalogOffer | null> {
    const data = await this.query<{ offer: null | { code: string; document: unknown; status: 'ACTIVE' | 'RETIRED' } }>(OFFER_QUERY, { code });
    return data.offer ? { ...offerFromDocument(data.offer.document), status: data.offer.status } : null;
  }

  async planVersionDocument(id: string): Promise<unknown | null> {
    if (this.versions.has(id)) return this.versions.get(id);
    const data = await this.query<{ planVersion: null | { id: string; document: unknown } }>(VERSION_QUERY, { id });
    if (!data.planVersion) return null;
    this.versions.set(id, data.planVersion.document);
    return data.planVersion.document;
  }
}
