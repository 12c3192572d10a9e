/**
 * Compiled plan versions, cached forever: a published version never changes. Documents come from
 * the catalog subgraph (`planVersion(id) { document }`) or, in tests, from any PlanSource.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compilePlan, createRater, PlanValidationError, type OfferDocument, type Rater } from '@ledgerline/rating';
import { SYSTEM_CALLER, callerHeaders, graphqlRequest } from '@ledgerline/platform';

export interface PlanVersionDocument {
  id: string;
  version: string;
  document: unknown;
}

export interface PlanSource {
  /** The published document, or null when the catalog has no such version. Throws when unreachable. */
  load(planVersionId: string): Promise<PlanVersionDocument | null>;
}

export function catalogPlanSource(url: string, secret: string): PlanSource {
  return {
    async load(id) {
      const response = await graphqlRequest<{ planVersion: { id: string; version: number; document: unknown } | null }>(
        url,
        'query UsagePlanVersion($id: ID!) { planVersion(id: $id) { id version document } }',
        { id },
        { headers: callerHeaders(SYSTEM_CALLER, secret) },
      );
      if (response.errors?.length) throw new Error(`catalog answered planVersion(${id}) with ${response.errors[0].message}`);
      const pv = response.data?.planVersion;
      return pv ? { id: pv.id, version: String(pv.version), document: pv.document } : null;
    },
  };
}

export type PlanLookup = { ok: true; rater: Rater } | { ok: false; code: 'PLAN_VERSION_UNKNOWN' | 'PLAN_INVALID'; reason: string };

/**
 * Offers a published plan may name (its `rate` rules may consume an offer's allowance, e.g. a
 * roaming pass): read from the catalog-as-code directory (CATALOG_DIR, default the repo's
 * catalog/), the same files the catalog validated the plan against.
 */
export function fileOffers(dir = process.env.CATALOG_DIR ?? new URL('../../../../catalog', import.meta.url).pathname): OfferDocument[] {
  const offersDir = path.join(dir, 'offers');
  if (!fs.existsSync(offersDir)) return [];
  return fs.readdirSync(offersDir).filter((f) => f.endsWith('.json')).sort().map((f) => JSON.parse(fs.readFileSync(path.join(offersDir, f), 'utf8')) as OfferDocument);
}

export class PlanCache {
  private readonly compiled = new Map<string, Promise<PlanLookup>>();
  private offers: OfferDocument[] | undefined;

  constructor(
    private readonly source: PlanSource,
    private readonly loadOffers: () => OfferDocument[] = fileOffers,
  ) {}

  knownOffers(): OfferDocument[] {
    this.offers ??= this.loadOffers();
    return this.offers;
  }

  /** Synchronous hit path for the rating loop. */
  peek(planVersionId: string): PlanLookup | undefined {
    return this.settled.get(planVersionId);
  }

  private readonly settled = new Map<string, PlanLookup>();

  get(planVersionId: string): Promise<PlanLookup> {
    let pending = this.compiled.get(planVersionId);
    if (!pending) {
      pending = this.compile(planVersionId).then(
        (lookup) => {
          // "unknown" may be a version not yet replicated to us: only definite answers stay cached.
          if (lookup.ok || lookup.code === 'PLAN_INVALID') this.settled.set(planVersionId, lookup);
          else this.compiled.delete(planVersionId);
          return lookup;
        },
        (error) => {
          this.compiled.delete(planVersionId);
          throw error;
        },
      );
      this.compiled.set(planVersionId, pending);
    }
    return pending;
  }

  private async compile(planVersionId: string): Promise<PlanLookup> {
    const doc = await this.source.load(planVersionId);
    if (!doc) return { ok: false, code: 'PLAN_VERSION_UNKNOWN', reason: `plan version ${planVersionId} is not published in the catalog` };
    try {
      return { ok: true, rater: createRater(compilePlan(doc.document, { version: doc.version, knownOffers: this.knownOffers() })) };
    } catch (error) {
      if (error instanceof PlanValidationError) return { ok: false, code: 'PLAN_INVALID', reason: error.message.slice(0, 500) };
      throw error;
    }
  }
}
