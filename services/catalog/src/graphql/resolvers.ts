import { scalarResolvers, pageSize, decodeCursor, toConnection, type PageArgs } from '@ledgerline/contracts';
import type { RequestContext } from '@ledgerline/platform';
import type DataLoader from 'dataloader';
import { Plan, PlanVersion } from '../persistence/entities';
import { importPlan } from '../application/import-plan';

export interface CatalogContext extends RequestContext {
  plans: DataLoader<string, Plan | null>;
  planVersions: DataLoader<string, PlanVersion | null>;
}

interface PlanFilter {
  status?: string;
  paymentMode?: string;
  codePrefix?: string;
}

export const resolvers = {
  ...scalarResolvers,
  Query: {
    async plans(_: unknown, args: PageArgs & { filter?: PlanFilter }, ctx: CatalogContext) {
      const limit = pageSize(args);
      const where: Record<string, unknown> = {};
      if (args.filter?.status) where.status = args.filter.status;
      if (args.filter?.paymentMode) where.paymentMode = args.filter.paymentMode;
      if (args.filter?.codePrefix) where.code = { $like: `${args.filter.codePrefix}%` };
      const totalCount = await ctx.em.count(Plan, where);
      if (args.after) where.code = { ...(where.code as object), $gt: decodeCursor(args.after) };
      const rows = await ctx.em.find(Plan, where, { orderBy: { code: 'asc' }, limit: limit + 1 });
      return toConnection(rows, limit, (p) => p.code, Boolean(args.after), totalCount);
    },
    plan: (_: unknown, args: { code: string }, ctx: CatalogContext) => ctx.em.findOne(Plan, { code: args.code }),
    planVersion: (_: unknown, args: { id: string }, ctx: CatalogContext) => ctx.planVersions.load(args.id),
  },
  Mutation: {
    async importPlan(_: unknown, args: { input: { document: unknown; effectiveFrom?: Date } }, ctx: CatalogContext) {
      const now = ctx.runtime.clock.now();
      const result = await ctx.em.transactional((em) => importPlan(em as typeof ctx.em, { document: args.input.document, effectiveFrom: args.input.effectiveFrom, now }));
      ctx.runtime.relay.nudge();
      return result;
    },
  },
  Plan: {
    __resolveReference: (ref: { id: string }, ctx: CatalogContext) => ctx.plans.load(ref.id),
    currentVersion: (plan: Plan, _: unknown, ctx: CatalogContext) => ctx.em.findOne(PlanVersion, { planId: plan.id, status: 'PUBLISHED' }, { orderBy: { version: 'desc' } }),
    versions: (plan: Plan, _: unknown, ctx: CatalogContext) => ctx.em.find(PlanVersion, { planId: plan.id }, { orderBy: { version: 'asc' } }),
  },
  PlanVersion: {
    __resolveReference: (ref: { id: string }, ctx: CatalogContext) => ctx.planVersions.load(ref.id),
    plan: (version: PlanVersion, _: unknown, ctx: CatalogContext) => ctx.plans.load(version.planId),
    document: (version: PlanVersion) => JSON.parse(version.document),
  },
};
