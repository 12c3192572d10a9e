import type DataLoader from 'dataloader';
import { scalarResolvers, pageSize, decodeCursor, toConnection, notFound, badInput, dec, type PageArgs } from '@ledgerline/contracts';
import { QueryOrder, raw } from '@mikro-orm/core';
import { requireRole, retryScopeOf, transactionalRetrying, type Em, type RequestContext } from '@ledgerline/platform';
import { diffPlans } from '@ledgerline/rating';
import { Offer, OfferAudit, Plan, PlanAudit, PlanVersion } from '../persistence/entities';
import { hasTakenEffect, planNameAt, versionInForce } from '../domain/plan-lifecycle';
import { validateDocument } from '../application/plan-documents';
import { createPlanDraft } from '../application/create-plan-draft';
import { updatePlanDraft } from '../application/update-plan-draft';
import { publishPlan } from '../application/publish-plan';
import { retirePlan } from '../application/retire-plan';
import { cancelScheduledPlanVersion } from '../application/cancel-scheduled-plan-version';
import { importPlan } from '../application/import-plan';
import { importOffer } from '../application/import-offer';
import { retireOffer } from '../application/retire-offer';
import { comparePlans, simulateRating, usageToCompare, type ComparePlansCommand, type SubscriberFactsInput, type UsageRecordInput } from '../application/rate-with-plans';
import { GraphqlUsageHistory } from '../adapters/usage-history';
import { EDITORS, mayReadDrafts, mayReadScheduled, requireAccountReader, requireEditor, requireStaff } from './authorization';

export interface CatalogContext extends RequestContext {
  plans: DataLoader<string, Plan | null>;
  planVersions: DataLoader<string, PlanVersion | null>;
}

interface PlanFilter {
  status?: string;
  paymentMode?: string;
  codePrefix?: string;
}

/** `LIKE` pattern of a literal prefix: `%`, `_` and the escape character `!` match only themselves (`escape '!'`). */
const likePrefix = (prefix: string): string => `${prefix.replace(/[!%_]/g, '!$&')}%`;

/**
 * A version as this caller may read it (see authorization.ts): a draft for editors, a version not
 * yet in force (scheduled, or cancelled before its date) for staff, one that has taken effect for
 * anyone. Otherwise refused (UNAUTHENTICATED / FORBIDDEN naming `field`), or null where `refuse` is false.
 */
function readableVersion(ctx: CatalogContext, version: PlanVersion | null, field: string, refuse = true): PlanVersion | null {
  if (!version) return null;
  if (version.status === 'DRAFT') {
    if (mayReadDrafts(ctx.caller)) return version;
    if (refuse) requireEditor(ctx.caller, 'read plan drafts', field);
    return null;
  }
  if (mayReadScheduled(ctx.caller) || hasTakenEffect(version, ctx.runtime.clock.now())) return version;
  if (refuse) requireStaff(ctx.caller, 'read plan versions before they take effect', field);
  return null;
}

/**
 * A version another subgraph references: subscribers' `LineSubscription.planVersion`, resolved
 * after subscribers let the caller read that subscription. A published version resolves whatever
 * its date: the version that applies to the caller's own subscription is theirs to see (subscribers
 * pins versions in force when it sells, so today this is one that has taken effect; were one dated
 * later ever pinned, null would void the customer's non-null `planVersion`, and with it the
 * subscription). Drafts (editors) and cancelled versions (staff) are never pinned: as by id.
 */
function referencedVersion(ctx: CatalogContext, version: PlanVersion | null): PlanVersion | null {
  if (version && version.status !== 'DRAFT' && version.status !== 'CANCELLED') return version;
  return readableVersion(ctx, version, 'id', false);
}

/**
 * A plan as this caller may read it, null as for an unknown code otherwise: a plan never published
 * (DRAFT) for editors; one whose versions have not taken effect yet (SCHEDULED, or retired before it
 * ever did) for staff; one with a version that has taken effect (on sale, or retired) for anyone.
 */
async function readablePlan(ctx: CatalogContext, plan: Plan | null): Promise<Plan | null> {
  if (!plan || mayReadDrafts(ctx.caller)) return plan;
  if (plan.status === 'DRAFT') return null;
  if (mayReadScheduled(ctx.caller)) return plan;
  const taken = await ctx.em.count(PlanVersion, { planId: plan.id, status: 'PUBLISHED', effectiveFrom: { $lte: ctx.runtime.clock.now() } });
  return taken > 0 ? plan : null;
}

/**
 * Ids of the plans with a published version that has taken effect by `now`: in force, or superseded
 * since (never withdrawn), so a PUBLISHED plan among them is on sale (the catalog is small: one query).
 */
async function plansInForce(em: Em, now: Date): Promise<string[]> {
  const rows = await em.find(PlanVersion, { status: 'PUBLISHED', effectiveFrom: { $lte: now } }, { fields: ['planId'] });
  return [...new Set(rows.map((r) => r.planId))];
}

async function mutate<T>(ctx: CatalogContext, action: string, work: (em: Em, now: Date) => Promise<T>): Promise<T> {
  requireRole(ctx.caller, EDITORS, action);
  // The catalog's use cases write only in their transaction: a deadlock or serialization victim runs again.
  const now = ctx.runtime.clock.now();
  const result = await transactionalRetrying(ctx.em, retryScopeOf(ctx), (em) => work(em, now));
  ctx.runtime.relay.nudge();
  return result;
}

export const resolvers = {
  ...scalarResolvers,
  Query: {
    async plans(_: unknown, args: PageArgs & { filter?: PlanFilter }, ctx: CatalogContext) {
      const limit = pageSize(args);
      const where: Record<string, unknown> = {};
      if (args.filter?.status === 'DRAFT') requireEditor(ctx.caller, 'list plans never published', 'filter.status');
      if (args.filter?.status === 'SCHEDULED') requireStaff(ctx.caller, 'list plans scheduled for a later date', 'filter.status');
      // Unfiltered, anyone but an editor browses what is on sale: no drafts, no RETIRED plans (no
      // longer sold; still read by code, by reference, or listed with `status: RETIRED`), no plan
      // whose first version is still SCHEDULED (nothing to sell before its date).
      const status = args.filter?.status ?? (mayReadDrafts(ctx.caller) ? undefined : 'PUBLISHED');
      if (status === 'PUBLISHED' || status === 'SCHEDULED') {
        where.status = 'PUBLISHED';
        const inForce = await plansInForce(ctx.em, ctx.runtime.clock.now());
        if (status === 'PUBLISHED') where.id = { $in: inForce };
        else if (inForce.length) where.id = { $nin: inForce };
      } else if (status) {
        where.status = status;
        // A plan retired before any version took effect was never public: staff's, as a SCHEDULED one.
        if (status === 'RETIRED' && !mayReadScheduled(ctx.caller)) where.id = { $in: await plansInForce(ctx.em, ctx.runtime.clock.now()) };
      }
      if (args.filter?.paymentMode) where.paymentMode = args.filter.paymentMode;
      const prefix = args.filter?.codePrefix;
      // A raw fragment is consumed by the query that uses it: one per query.
      const withPrefix = (w: Record<string, unknown>) => (prefix ? { ...w, [raw((alias) => `${alias}.code like ? escape '!'`, [likePrefix(prefix)])]: [] } : w);
      const totalCount = await ctx.em.count(Plan, withPrefix(where));
      if (args.after) where.code = { $gt: decodeCursor(args.after) };
      const rows = await ctx.em.find(Plan, withPrefix(where), { orderBy: { code: 'asc' }, limit: limit + 1 });
      return toConnection(rows, limit, (p) => p.code, Boolean(args.after), totalCount);
    },
    plan: async (_: unknown, args: { code: string }, ctx: CatalogContext) => readablePlan(ctx, await ctx.em.findOne(Plan, { code: args.code })),
    planVersion: async (_: unknown, args: { id: string }, ctx: CatalogContext) => readableVersion(ctx, await ctx.planVersions.load(args.id), 'id'),
    offers: (_: unknown, a: { includeRetired?: boolean }, ctx: CatalogContext) => ctx.em.find(Offer, a.includeRetired ? {} : { status: 'ACTIVE' }, { orderBy: { code: 'asc' } }),
    offer: (_: unknown, args: { code: string }, ctx: CatalogContext) => ctx.em.findOne(Offer, { code: args.code }),
    async diffPlanVersions(_: unknown, args: { fromId: string; toId: string }, ctx: CatalogContext) {
      const [from, to] = await Promise.all([ctx.planVersions.load(args.fromId), ctx.planVersions.load(args.toId)]);
      if (!from) throw notFound('PlanVersion', args.fromId, 'fromId');
      if (!to) throw notFound('PlanVersion', args.toId, 'toId');
      readableVersion(ctx, from, 'fromId');
      readableVersion(ctx, to, 'toId');
      return diffPlans(JSON.parse(from.document), JSON.parse(to.document));
    },
    validatePlan: (_: unknown, args: { document: unknown }, ctx: CatalogContext) => validateDocument(ctx.em, args.document),
    async simulateRating(_: unknown, args: { input: { planVersionId: string; records: UsageRecordInput[]; subscriber?: SubscriberFactsInput } }, ctx: CatalogContext) {
      readableVersion(ctx, await ctx.planVersions.load(args.input.planVersionId), 'input.planVersionId');
      return simulateRating(ctx.em, args.input);
    },
    async comparePlans(_: unknown, args: { input: Omit<ComparePlansCommand, 'now'> }, ctx: CatalogContext) {
      const command = { ...args.input, now: ctx.runtime.clock.now() };
      // An account's usage is read as this caller (not SYSTEM), so usage decides whose account it is.
      if (command.billingAccountId) requireAccountReader(ctx.caller, 'input.billingAccountId');
      const usage = new GraphqlUsageHistory(ctx.caller, ctx.runtime.config.internalSecret);
      return comparePlans(ctx.em, { ...command, records: await usageToCompare(command, usage), mayReadDrafts: mayReadDrafts(ctx.caller), mayReadScheduled: mayReadScheduled(ctx.caller) });
    },
  },
  Mutation: {
    async validatePlan(_: unknown, a: { input: { document?: unknown; draftId?: string } }, ctx: CatalogContext) {
      if ((a.input.document === undefined) === !a.input.draftId) throw badInput('input', 'Give exactly one of document or draftId', 'VALIDATE_INPUT_AMBIGUOUS');
      if (a.input.document !== undefined) return validateDocument(ctx.em, a.input.document);
      const draft = readableVersion(ctx, await ctx.planVersions.load(a.input.draftId!), 'input.draftId');
      if (!draft) throw notFound('PlanVersion', a.input.draftId!, 'input.draftId');
      return validateDocument(ctx.em, JSON.parse(draft.document));
    },
    createPlanDraft: (_: unknown, a: { input: { document: unknown } }, ctx: CatalogContext) =>
      mutate(ctx, 'create plan drafts', (em, now) => createPlanDraft(em, { document: a.input.document, actor: ctx.caller, now })),
    updatePlanDraft: (_: unknown, a: { input: { draftId: string; document: unknown } }, ctx: CatalogContext) =>
      mutate(ctx, 'edit plan drafts', (em, now) => updatePlanDraft(em, { ...a.input, actor: ctx.caller, now })),
    publishPlan: (_: unknown, a: { input: { draftId: string; effectiveFrom?: Date } }, ctx: CatalogContext) =>
      mutate(ctx, 'publish plans', (em, now) => publishPlan(em, { ...a.input, actor: ctx.caller, now })),
    cancelScheduledPlanVersion: (_: unknown, a: { input: { versionId: string; reason: string } }, ctx: CatalogContext) =>
      mutate(ctx, 'publish plans', (em, now) => cancelScheduledPlanVersion(em, { ...a.input, actor: ctx.caller, now })),
    retirePlan: (_: unknown, a: { input: { code: string } }, ctx: CatalogContext) => mutate(ctx, 'retire plans', (em, now) => retirePlan(em, { code: a.input.code, actor: ctx.caller, now })),
    importPlan: (_: unknown, a: { input: { document: unknown; effectiveFrom?: Date } }, ctx: CatalogContext) =>
      mutate(ctx, 'publish plans', (em, now) => importPlan(em, { ...a.input, actor: ctx.caller, now })),
    importOffer: (_: unknown, a: { input: { document: unknown } }, ctx: CatalogContext) => mutate(ctx, 'publish offers', (em, now) => importOffer(em, { document: a.input.document, actor: ctx.caller, now })),
    retireOffer: (_: unknown, a: { input: { code: string; reason: string } }, ctx: CatalogContext) => mutate(ctx, 'retire offers', (em, now) => retireOffer(em, { ...a.input, actor: ctx.caller, now })),
  },
  Plan: {
    /** As `plan(code)`: no other subgraph holds a plan's id (lines pin versions: see PlanVersion's). */
    __resolveReference: async (ref: { id: string }, ctx: CatalogContext) => readablePlan(ctx, await ctx.plans.load(ref.id)),
    /** The version in force's name (planNameAt): a rename dated later is not the plan's before its date. */
    async name(plan: Plan, _: unknown, ctx: CatalogContext) {
      return planNameAt(await ctx.em.find(PlanVersion, { planId: plan.id, status: 'PUBLISHED' }), ctx.runtime.clock.now(), plan.name);
    },
    /** SCHEDULED while a published plan has no version in force yet (its first one is dated later). */
    async status(plan: Plan, _: unknown, ctx: CatalogContext) {
      if (plan.status !== 'PUBLISHED') return plan.status;
      const inForce = await ctx.em.count(PlanVersion, { planId: plan.id, status: 'PUBLISHED', effectiveFrom: { $lte: ctx.runtime.clock.now() } });
      return inForce > 0 ? 'PUBLISHED' : 'SCHEDULED';
    },
    async currentVersion(plan: Plan, _: unknown, ctx: CatalogContext) {
      return versionInForce(await ctx.em.find(PlanVersion, { planId: plan.id, status: 'PUBLISHED' }), ctx.runtime.clock.now());
    },
    /** A later moment is staff's (what takes effect then is not public before its date); now or earlier is anyone's. */
    async versionAt(plan: Plan, args: { at: Date }, ctx: CatalogContext) {
      const now = ctx.runtime.clock.now();
      if (args.at.getTime() > now.getTime()) requireStaff(ctx.caller, 'read which version of a plan takes effect later', 'at');
      return versionInForce(await ctx.em.find(PlanVersion, { planId: plan.id, status: 'PUBLISHED' }), args.at);
    },
    draft(plan: Plan, _: unknown, ctx: CatalogContext) {
      requireEditor(ctx.caller, 'read plan drafts');
      return ctx.em.findOne(PlanVersion, { planId: plan.id, status: 'DRAFT' });
    },
    /**
     * Anyone sees the versions that have taken effect (in force, or superseded); staff also those
     * still to come and the cancelled ones (withdrawn before their date); editors the open draft too.
     * By number, the open draft last (createdAt alone ties within a second).
     */
    versions(plan: Plan, _: unknown, ctx: CatalogContext) {
      const seen = mayReadDrafts(ctx.caller)
        ? {}
        : mayReadScheduled(ctx.caller)
          ? { status: { $ne: 'DRAFT' } }
          : { status: { $nin: ['DRAFT', 'CANCELLED'] }, effectiveFrom: { $lte: ctx.runtime.clock.now() } };
      return ctx.em.find(PlanVersion, { planId: plan.id, ...seen }, { orderBy: { version: QueryOrder.ASC_NULLS_LAST, createdAt: 'asc' } });
    },
    /** Nullable in the schema: the refusal nulls only `audit`, not the plan a page asked it with. */
    audit(plan: Plan, _: unknown, ctx: CatalogContext) {
      requireEditor(ctx.caller, "read a plan's audit trail", 'audit');
      return ctx.em.find(PlanAudit, { planId: plan.id }, { orderBy: { at: 'desc', id: 'desc' } });
    },
  },
  PlanVersion: {
    __resolveReference: async (ref: { id: string }, ctx: CatalogContext) => referencedVersion(ctx, await ctx.planVersions.load(ref.id)),
    plan: (version: PlanVersion, _: unknown, ctx: CatalogContext) => ctx.plans.load(version.planId),
    document: (version: PlanVersion) => JSON.parse(version.document),
    validation: (version: PlanVersion, _: unknown, ctx: CatalogContext) => validateDocument(ctx.em, JSON.parse(version.document)),
  },
  PlanAuditEntry: {
    diff: (entry: PlanAudit) => JSON.parse(entry.diff),
  },
  Offer: {
    __resolveReference: (ref: { code: string }, ctx: CatalogContext) => ctx.em.findOne(Offer, { code: ref.code }),
    // The stored numeric's scale (12.000000) or the document's (12.00): one form, the decimal's own.
    price: (offer: Offer) => ({ amount: dec(offer.price).toString(), currency: offer.currency }),
    document: (offer: Offer) => JSON.parse(offer.document),
    /** Nullable in the schema: the refusal nulls only `audit`, not the offer a page asked it with. */
    audit(offer: Offer, _: unknown, ctx: CatalogContext) {
      requireEditor(ctx.caller, "read an offer's audit trail", 'audit');
      return ctx.em.find(OfferAudit, { offerCode: offer.code }, { orderBy: { at: 'asc', id: 'asc' } });
    },
  },
  OfferAuditEntry: {
    diff: (entry: OfferAudit) => JSON.parse(entry.diff),
  },
};
