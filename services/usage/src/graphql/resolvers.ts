import { badInput, decodeCursor, DomainError, pageSize, scalarResolvers, toConnection, type Caller, type PageArgs } from '@ledgerline/contracts';
import type DataLoader from 'dataloader';
import type { RequestContext } from '@ledgerline/platform';
import { UsageRecord } from '../persistence/entities';
import { usageRuntimeOf } from '../usage-runtime';
import { recordUsage } from '../application/record-usage';
import { reprocessRejected, type ReprocessCommand } from '../application/reprocess-rejected';
import { accountUsage, lineUsage } from '../application/live-usage';
import { upsertLineContext, type LineContextCommand } from '../application/upsert-line-context';
import { reratePeriod, type RerateCommand } from '../application/rerate-period';
import { handleChargingSession, sessionInputProblem, type ChargingSessionRequest } from '../application/charging-session';
import type { UsageOutcome } from '../application/usage-pipeline';

export interface UsageContext extends RequestContext {
  usageRecords: DataLoader<string, UsageRecord | null>;
}

function allow(caller: Caller, roles: Caller['role'][]): void {
  if (!roles.includes(caller.role)) throw new DomainError('FORBIDDEN', `this operation needs one of the roles ${roles.join(', ')}`, {}, 'FORBIDDEN');
}
const OPERATORS: Caller['role'][] = ['SYSTEM', 'ADMIN', 'AGENT'];
const INGESTERS: Caller['role'][] = ['SYSTEM', 'ADMIN', 'PARTNER'];

interface RecordFilter {
  lineId?: string;
  billingAccountId?: string;
  status?: string;
  usageType?: string;
  source?: string;
  chargeStatus?: string;
  rejectionCode?: string;
  from?: Date;
  to?: Date;
}

async function listRecords(ctx: UsageContext, args: PageArgs, filter: RecordFilter) {
  const limit = pageSize(args);
  const where: Record<string, unknown> = {};
  for (const key of ['lineId', 'billingAccountId', 'status', 'usageType', 'source', 'chargeStatus', 'rejectionCode'] as const) if (filter[key]) where[key] = filter[key];
  if (filter.from || filter.to) where.occurredAt = { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lt: filter.to } : {}) };
  if (filter.billingAccountId && !filter.lineId) {
    // usage_record has no account index (it slowed every insert): go through the account's lines.
    const lines = await ctx.em.getConnection().execute<{ line_id: string }[]>(
      'select line_id from subscription_version where billing_account_id = ? union select line_id from line_state where billing_account_id = ?',
      [filter.billingAccountId, filter.billingAccountId],
    );
    where.lineId = { $in: lines.map((l) => l.line_id) };
  }
  const totalCount = await ctx.em.count(UsageRecord, where);
  if (args.after) where.id = { $gt: decodeCursor(args.after) };
  const rows = await ctx.em.find(UsageRecord, where, { orderBy: { id: 'asc' }, limit: limit + 1 });
  return toConnection(rows, limit, (r) => r.id, Boolean(args.after), totalCount);
}

function results(outcomes: UsageOutcome[], ctx: UsageContext) {
  return outcomes.map((o, index) => ({ index, ...o, status: o.status, record: () => ctx.usageRecords.load(o.id) }));
}

const now = (ctx: RequestContext) => ctx.runtime.clock.now();

export const resolvers = {
  ...scalarResolvers,
  Query: {
    usageRecord: (_: unknown, a: { id: string }, ctx: UsageContext) => ctx.usageRecords.load(a.id),
    usageRecords: (_: unknown, a: PageArgs & { lineId?: string; status?: string; filter?: RecordFilter }, ctx: UsageContext) =>
      listRecords(ctx, a, { ...(a.filter ?? {}), ...(a.lineId ? { lineId: a.lineId } : {}), ...(a.status ? { status: a.status } : {}) }),
    rejectedUsage: (_: unknown, a: PageArgs & { filter?: RecordFilter }, ctx: UsageContext) => listRecords(ctx, a, { ...(a.filter ?? {}), status: 'REJECTED' }),
  },
  Mutation: {
    async recordUsage(_: unknown, a: { input: { source?: string; records: unknown[] } }, ctx: UsageContext) {
      allow(ctx.caller, INGESTERS);
      const outcomes = await recordUsage(usageRuntimeOf(ctx.runtime).pipeline, a.input);
      return {
        results: results(outcomes, ctx),
        rated: outcomes.filter((o) => !o.duplicate && o.status === 'RATED').length,
        rejected: outcomes.filter((o) => !o.duplicate && o.status === 'REJECTED').length,
        duplicates: outcomes.filter((o) => o.duplicate).length,
      };
    },
    async reprocessRejected(_: unknown, a: { input: ReprocessCommand }, ctx: UsageContext) {
      allow(ctx.caller, OPERATORS);
      const usage = usageRuntimeOf(ctx.runtime);
      const outcomes = await reprocessRejected(usage.sql, usage.pipeline, a.input);
      return { results: results(outcomes, ctx), rated: outcomes.filter((o) => !o.duplicate && o.status === 'RATED').length, stillRejected: outcomes.filter((o) => o.status === 'REJECTED').length };
    },
    async rerate(_: unknown, a: { input: RerateCommand }, ctx: UsageContext) {
      allow(ctx.caller, OPERATORS);
      const result = await reratePeriod(usageRuntimeOf(ctx.runtime), a.input, now(ctx));
      ctx.runtime.relay.nudge();
      return result;
    },
    async upsertLineContext(_: unknown, a: { input: LineContextCommand }, ctx: UsageContext) {
      allow(ctx.caller, ['SYSTEM', 'ADMIN']);
      await upsertLineContext(usageRuntimeOf(ctx.runtime).directory, a.input, now(ctx));
      return { lineId: a.input.lineId };
    },
    chargingSession(_: unknown, a: { input: ChargingSessionRequest }, ctx: UsageContext) {
      allow(ctx.caller, ['SYSTEM', 'ADMIN', 'PARTNER']);
      const problem = sessionInputProblem(a.input, now(ctx));
      if (problem) throw badInput(`input.${problem.field}`, problem.message);
      return handleChargingSession(usageRuntimeOf(ctx.runtime), ctx.runtime.messaging.nc, a.input, now(ctx));
    },
  },
  Line: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    usage: (line: { id: string }, args: { period?: string }, ctx: UsageContext) => lineUsage(usageRuntimeOf(ctx.runtime), line.id, args.period, now(ctx)),
  },
  BillingAccount: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    usage: (account: { id: string }, args: { period?: string }, ctx: UsageContext) => accountUsage(usageRuntimeOf(ctx.runtime), account.id, args.period, now(ctx)),
  },
  UsageRecord: {
    __resolveReference: (ref: { id: string }, ctx: UsageContext) => ctx.usageRecords.load(ref.id),
    price: (r: UsageRecord) => (r.price != null && r.currency ? { amount: r.price, currency: r.currency } : null),
    amountCharged: (r: UsageRecord) => (r.amountCharged != null && r.currency ? { amount: r.amountCharged, currency: r.currency } : null),
    ratingTrace: (r: UsageRecord) => (r.rating ? JSON.parse(r.rating) : null),
  },
};
