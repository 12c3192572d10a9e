import { decodeCursor, pageSize, scalarResolvers, toConnection, type PageArgs } from '@ledgerline/contracts';
import type DataLoader from 'dataloader';
import type { RequestContext } from '@ledgerline/platform';
import { UsageRecord } from '../persistence/entities';
import { summarizeLineUsage } from '../application/summarize-line-usage';

export interface UsageContext extends RequestContext {
  usageRecords: DataLoader<string, UsageRecord | null>;
}

export const resolvers = {
  ...scalarResolvers,
  Query: {
    async usageRecords(_: unknown, args: PageArgs & { lineId?: string; status?: string }, ctx: RequestContext) {
      const limit = pageSize(args);
      const where: Record<string, unknown> = {};
      if (args.lineId) where.lineId = args.lineId;
      if (args.status) where.status = args.status;
      if (args.after) where.id = { $gt: decodeCursor(args.after) };
      const rows = await ctx.em.find(UsageRecord, where, { orderBy: { id: 'asc' }, limit: limit + 1 });
      return toConnection(rows, limit, (r) => r.id, Boolean(args.after));
    },
  },
  Line: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    usage: (line: { id: string }, args: { period?: string }, ctx: RequestContext) => summarizeLineUsage(ctx.em, line.id, args.period, ctx.runtime.clock.now()),
  },
  UsageRecord: {
    __resolveReference: (ref: { id: string }, ctx: UsageContext) => ctx.usageRecords.load(ref.id),
  },
};
