/**
 * Compiled plan versions. Documents and offers come from the catalog subgraph (`planVersion(id) {
 * document }`, `offers { document }`) or, in tests, from any PlanSource.
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
  /**
   * The catalog's add-on offers, retired ones included (versions published before still name them).
   * Without it (tests' file sources), the catalog folder's files.
   */
  offers?(): Promise<OfferDocument[]>;
}

export function catalogPlanSource(url: string, secret: string): PlanSource {
  const ask = async <T>(query: string, variables: Record<string, unknown>, what: string): Promise<T> => {
    const response = await graphqlRequest<T>(url, query, variables, { headers: callerHeaders(SYSTEM_CALLER, secret) });
    if (response.errors?.length) throw new Error(`catalog answered ${what} with ${response.errors[0].message}`);
    return response.data as T;
  };
  return {
    async load(id) {
      const data = await ask<{ planVersion: { id: string; version: number; document: unknown } | null }>('query UsagePlanVersion($id: ID!) { planVersion(id: $id) { id version document } }', { id }, `planVersion(${id})`);
      const pv = data?.planVersion;
      return pv ? { id: pv.id, version: String(pv.version), document: pv.document } : null;
    },
    async offers() {
      const data = await ask<{ offers: { document: OfferDocument }[] }>('query UsageOffers { offers(includeRetired: true) { document } }', {}, 'offers');
      return data.offers.map((o) => o.document);
    },
  };
}

export type PlanLookup = { ok: true; rater: Rater } | { ok: false; code: 'PLAN_VERSION_UNKNOWN' | 'PLAN_INVALID'; reason: string };

/**
 * The catalog folder's offers (CATALOG_DIR, default the repo's catalog/): what a plan source without
 * `offers()` (tests' file sources) compiles against.
 */
export function fileOffers(dir = process.env.CATALOG_DIR ?? new URL('../../../../catalog', import.meta.url).pathname): OfferDocument[] {
  const offersDir = path.join(dir, 'offers');
  if (!fs.existsSync(offersDir)) return [];
  return fs.readdirSync(offersDir).filter((f) => f.endsWith('.json')).sort().map((f) => JSON.parse(fs.readFileSync(path.join(offersDir, f), 'utf8')) as OfferDocument);
}

/**
 * Compiled plan versions against the catalog's offers (a rate rule may consume an offer's
 * allowance, an offer rule names one). A published version never changes, so it is cached until
 * the offers do: `refreshOffers` (on the catalog's offer events, and once before a version is called
 * PLAN_INVALID: the catalog accepted it against offers that may be newer than ours) compiles again
 * the versions it holds when they differ. `generation` counts the offer sets: a compile against an
 * older set is not kept.
 */
export class PlanCache {
  private readonly compiled = new Map<string, Promise<PlanLookup>>();
  private readonly settled = new Map<string, PlanLookup>();
  /** The documents of the settled versions (compiled again when the offers change). */
  private readonly docs = new Map<string, PlanVersionDocument>();
  private offers: OfferDocument[] | undefined;
  private offersText = '';
  private generation = 0;
  private refreshing: Promise<unknown> = Promise.resolve();
  /** Called when the offers changed (allowance sizes the live counters took from them may have too). */
  onOffersChanged?: () => void;

  constructor(private readonly source: PlanSource) {}

  /** The offers the cached raters were compiled against (a rater from this cache means they are loaded). */
  knownOffers(): OfferDocument[] {
    return this.offers ?? [];
  }

  /** Synchronous hit path for the rating loop. */
  peek(planVersionId: string): PlanLookup | undefined {
    return this.settled.get(planVersionId);
  }

  get(planVersionId: string): Promise<PlanLookup> {
    const done = this.settled.get(planVersionId);
    if (done) return Promise.resolve(done);
    let pending = this.compiled.get(planVersionId);
    if (!pending) {
      const forget = () => {
        if (this.compiled.get(planVersionId) === pending) this.compiled.delete(planVersionId);
      };
      pending = this.compile(planVersionId).then(
        ({ lookup, generation }) => {
          // "unknown" may be a version not yet replicated to us: only definite answers stay cached,
          // and only against the offers in force now.
          if ((lookup.ok || lookup.code === 'PLAN_INVALID') && generation === this.generation) this.settled.set(planVersionId, lookup);
          forget();
          return lookup;
        },
        (error) => {
          forget();
          throw error;
        },
      );
      this.compiled.set(planVersionId, pending);
    }
    return pending;
  }

  /**
   * Asks the source for its offers again; where they differ from ours, they replace ours and every
   * version compiles again (in turn: one load at a time). Resolves to the offers in force after it.
   */
  refreshOffers(): Promise<{ offers: OfferDocument[]; generation: number }> {
    const run = this.refreshing.then(async () => {
      const offers = await this.loadOffers();
      const text = JSON.stringify(offers);
      if (this.offers === undefined || text !== this.offersText) {
        const changed = this.offers !== undefined;
        this.offers = offers;
        this.offersText = text;
        this.generation++;
        // Recompiled here, in one step with the offers: the rating loop's peek never misses a version it had.
        for (const id of this.settled.keys()) this.settled.set(id, compiled(this.docs.get(id)!, offers));
        this.compiled.clear();
        if (changed) this.onOffersChanged?.();
      }
      return { offers: this.offers, generation: this.generation };
    });
    this.refreshing = run.catch(() => undefined);
    return run;
  }

  private async loadOffers(): Promise<OfferDocument[]> {
    return this.source.offers ? this.source.offers() : fileOffers();
  }

  private async compile(planVersionId: string): Promise<{ lookup: PlanLookup; generation: number }> {
    let { offers, generation } = this.offers ? { offers: this.offers, generation: this.generation } : await this.refreshOffers();
    const doc = await this.source.load(planVersionId);
    if (!doc) return { lookup: { ok: false, code: 'PLAN_VERSION_UNKNOWN', reason: `plan version ${planVersionId} is not published in the catalog` }, generation };
    this.docs.set(planVersionId, doc);
    let lookup = compiled(doc, offers);
    if (!lookup.ok && this.source.offers) {
      const now = await this.refreshOffers();
      if (now.generation !== generation) ({ offers, generation } = now);
      if (now.offers === offers) lookup = compiled(doc, offers);
    }
    return { lookup, generation };
  }
}

function compiled(doc: PlanVersionDocument, knownOffers: OfferDocument[]): PlanLookup {
  try {
    return { ok: true, rater: createRater(compilePlan(doc.document, { version: doc.version, knownOffers })) };
  } catch (error) {
    if (error instanceof PlanValidationError) return { ok: false, code: 'PLAN_INVALID', reason: error.message.slice(0, 500) };
    throw error;
  }
}
