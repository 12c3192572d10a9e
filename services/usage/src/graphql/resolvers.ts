import { badInput, decodeCursor, DomainError, encodeCursor, pageSize, scalarResolvers, toConnection, type Caller, type PageArgs } from '@ledgerline/contracts';
import type DataLoader from 'dataloader';
import { groupLoader, type RequestContext } from '@ledgerline/platform';
import { UsageRecord } from '../persistence/entities';
import { usageRuntimeOf } from '../usage-runtime';
import { recordUsage } from '../application/record-usage';
import { reprocessRejectedPage, type ReprocessCommand } from '../application/reprocess-rejected';
import { accountUsage, lineUsage } from '../application/live-usage';
import { upsertLineContext, type LineContextCommand } from '../application/upsert-line-context';
import { reratePeriod, type RerateCommand } from '../application/rerate-period';
import { handleChargingSession, sessionInputProblem, type ChargingSessionRequest } from '../application/charging-session';
import { EVENT_ID_CONFLICT, type UsageOutcome } from '../application/usage-pipeline';
import { entitlementChanges, listPartnerUsageEntitlements, setPartnerUsageEntitlement, type PartnerUsageEntitlement, type PartnerUsageEntitlementChange } from '../application/partner-usage-entitlement';
import { TOLD_AS_UNKNOWN_LINE } from '../domain/partner-usage';
import { clearSpendAlert, setSpendAlert, spendAlertsOf, type SetSpendAlertInput } from '../application/spend-alerts';
import type { Rejection } from '../domain/usage-input';
import { forbidden, isStaff, ownedAccounts, readableRow, requireAccount, requireLine, requireReader, requireSignedIn, requireStaff, sessionCallerOf, usageSenderOf } from './authorization';

export interface UsageContext extends RequestContext {
  usageRecords: DataLoader<string, UsageRecord | null>;
}

function allow(caller: Caller, roles: Caller['role'][]): void {
  requireSignedIn(caller, 'do this');
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

/** A record id as usage makes them (`deterministicId`): what a cursor of these connections holds. */
const RECORD_ID = /^usg_[0-9a-f]{32}$/;

/** The record id in `after`, or BAD_USER_INPUT naming `after` when it is not a cursor these connections hand out. */
function recordCursor(after: string): string {
  const id = decodeCursor(after);
  // Base64 decoding takes any text: only a cursor that encodes a record id, written as we write it, pages.
  if (!RECORD_ID.test(id) || encodeCursor(id) !== after) throw badInput('after', 'after is not a cursor of this list: pass an edge cursor or pageInfo.endCursor as it was given', 'CURSOR_INVALID');
  return id;
}

/** PostgreSQL refuses the NUL character in any text: refused here, naming the field, instead of failing the query. */
function refuseNul(fields: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(fields)) if (typeof value === 'string' && value.includes('\u0000')) throw badInput(field, `${field} contains a NUL character`, 'TEXT_INVALID');
}

const RECORD_FILTER_TEXTS = ['lineId', 'billingAccountId', 'source', 'rejectionCode'] as const;

/** The lines that ever belonged to any of the accounts (the read model); usage_record has no account index. */
async function linesOfAccounts(ctx: UsageContext, accounts: string[]): Promise<string[]> {
  const { rows } = await usageRuntimeOf(ctx.runtime).sql.query<{ line_id: string }>(
    'select line_id from subscription_version where billing_account_id = any($1::text[]) union select line_id from line_state where billing_account_id = any($1::text[])',
    [accounts],
  );
  return rows.map((r) => r.line_id);
}

/**
 * A page of records. Staff see every record; a customer only records rated to accounts they own
 * (a line's records from before it came to them, or after it left, stay with the account that
 * was billed), and naming an account that is not theirs is FORBIDDEN.
 */
async function listRecords(ctx: UsageContext, args: PageArgs, filter: RecordFilter) {
  const limit = pageSize(args);
  const after = args.after ? recordCursor(args.after) : undefined;
  const where: Record<string, unknown> = {};
  for (const key of ['lineId', 'billingAccountId', 'status', 'usageType', 'source', 'chargeStatus', 'rejectionCode'] as const) if (filter[key]) where[key] = filter[key];
  if (filter.from || filter.to) where.occurredAt = { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lt: filter.to } : {}) };
  let accounts: string[] | undefined = filter.billingAccountId ? [filter.billingAccountId] : undefined;
  if (!isStaff(ctx.caller)) {
    const owned = await ownedAccounts(usageRuntimeOf(ctx.runtime).sql, ctx.caller);
    if (filter.billingAccountId && !owned.has(filter.billingAccountId)) throw forbidden('read the usage of this billing account');
    if (!filter.billingAccountId) {
      if (owned.size === 0) return toConnection([], limit, (r: UsageRecord) => r.id, Boolean(after), 0);
      accounts = [...owned];
      where.billingAccountId = { $in: accounts };
    }
  }
  if (accounts && !filter.lineId) {
    // usage_record has no account index (it slowed every insert): go through the accounts' lines.
    where.lineId = { $in: await linesOfAccounts(ctx, accounts) };
  }
  const totalCount = await ctx.em.count(UsageRecord, where);
  if (after) where.id = { $gt: after };
  const rows = await ctx.em.find(UsageRecord, where, { orderBy: { id: 'asc' }, limit: limit + 1 });
  return toConnection(rows, limit, (r) => r.id, Boolean(after), totalCount);
}

/** Staff, or the customer who owns the account the record was rated to; another customer's record is null, as a missing one (readableRow). */
async function readableRecord(ctx: UsageContext, id: string): Promise<UsageRecord | null> {
  requireReader(ctx.caller, 'read usage records');
  refuseNul({ id });
  return readableRow(usageRuntimeOf(ctx.runtime).sql, ctx.caller, await ctx.usageRecords.load(id), 'read usage records');
}

/**
 * A partner gets back the records its call stored, not a record stored before under the same
 * (source, eventId) (a duplicate, or other content refused as EVENT_ID_CONFLICT): that one may be
 * someone else's, and the record shows a customer's call; and of its own records only what it
 * sent (`asSent`). A record for a line that is not its customer's is told to it exactly as an
 * unknown line (`toSender`: the code and reason in the result and in the record). Staff get every
 * record as it is.
 */
function results(outcomes: UsageOutcome[], ctx: UsageContext) {
  const staff = isStaff(ctx.caller);
  const mayRead = (o: UsageOutcome) => staff || (!o.duplicate && o.rejectionCode !== EVENT_ID_CONFLICT);
  const shown = async (o: UsageOutcome) => (staff ? ctx.usageRecords.load(o.id) : asSent(await ctx.usageRecords.load(o.id), o.toSender));
  return outcomes.map(({ toSender, ...o }, index) => {
    const told = !staff && toSender ? { rejectionCode: toSender.code, rejectionReason: toSender.reason } : {};
    return { index, ...o, ...told, status: o.status, record: () => (mayRead(o) ? shown({ ...o, toSender }) : null) };
  });
}

/**
 * What guiding and rating added to a record from the subscriber's side: the line and account
 * holding the number, the subscription and plan, the price, what allowances covered, the trace.
 */
const SUBSCRIBER_SIDE = {
  lineId: null, billingAccountId: null, subscriptionId: null, planVersionId: null, decision: null, allowanceId: null, chargedUnits: null,
  price: null, fromAllowance: null, spend: null, rating: null, amountCharged: null, unpaidAmount: null, unitsFromAllowances: null, chargeReason: null, zone: null,
  adjustsInvoiceId: null, charge: null,
} as const;

/** On a record shown to its partner: the rejection it is told instead (toSender), also for the record's rejection history. */
const TOLD = Symbol('toldToSender');

/**
 * A record as a partner (a feed, which reads no records) gets it back from its own ingest call:
 * what it sent, the id, status and rejection, without the subscriber's side (a feed could
 * otherwise map every MSISDN to its account and plan); its rejection as the partner is told it
 * (`told`: a line not its customer's reads as an unknown line). Staff get the whole record.
 */
function asSent(record: UsageRecord | null, told?: Rejection): UsageRecord | null {
  return record && ({ ...record, ...SUBSCRIBER_SIDE, ...(told ? { rejectionCode: told.code, rejectionReason: told.reason, [TOLD]: told } : {}) } as unknown as UsageRecord);
}

/** A record's rejection history as its reader is told it (a partner: as asSent put it). */
function toldHistory(r: UsageRecord, rows: RejectionRow[]): RejectionRow[] {
  const told = (r as unknown as { [TOLD]?: Rejection })[TOLD];
  if (!told) return rows;
  return rows.map((h) => (h.rejection_code !== null && TOLD_AS_UNKNOWN_LINE.has(h.rejection_code) ? { ...h, rejection_code: told.code, rejection_reason: told.reason } : h));
}

const now = (ctx: RequestContext) => ctx.runtime.clock.now();

interface RejectionRow {
  record_id: string;
  rejection_code: string | null;
  rejection_reason: string | null;
  received_at: Date;
  rejected_at: Date;
  reprocessed_at: Date;
}

/** Per request: the rejection history of the records a query asks it of, in one statement. */
const rejectionLoaders = new WeakMap<UsageContext, DataLoader<string, RejectionRow[]>>();

function rejectionsOf(ctx: UsageContext, recordId: string): Promise<RejectionRow[]> {
  let loader = rejectionLoaders.get(ctx);
  if (!loader) {
    loader = groupLoader(
      async (ids) =>
        (
          await usageRuntimeOf(ctx.runtime).sql.query<RejectionRow>(
            'select record_id, rejection_code, rejection_reason, received_at, rejected_at, reprocessed_at from usage_rejection_history where record_id = any($1::text[]) order by id',
            [[...ids]],
          )
        ).rows,
      (r) => r.record_id,
    );
    rejectionLoaders.set(ctx, loader);
  }
  return loader.load(recordId);
}

/** Per request: the audit trail of the entitlements a page shows, in one statement. */
const changeLoaders = new WeakMap<UsageContext, DataLoader<string, PartnerUsageEntitlementChange[]>>();

function changesOf(ctx: UsageContext, partnerId: string): Promise<PartnerUsageEntitlementChange[]> {
  let loader = changeLoaders.get(ctx);
  if (!loader) {
    const sql = usageRuntimeOf(ctx.runtime).sql;
    loader = groupLoader((ids) => entitlementChanges(sql, ids), (c) => c.partnerId);
    changeLoaders.set(ctx, loader);
  }
  return loader.load(partnerId);
}

export const resolvers = {
  ...scalarResolvers,
  Query: {
    usageRecord: (_: unknown, a: { id: string }, ctx: UsageContext) => readableRecord(ctx, a.id),
    usageRecords: (_: unknown, a: PageArgs & { lineId?: string; status?: string; filter?: RecordFilter }, ctx: UsageContext) => {
      requireReader(ctx.caller, 'read usage records');
      refuseNul({ lineId: a.lineId, ...Object.fromEntries(RECORD_FILTER_TEXTS.map((k) => [`filter.${k}`, a.filter?.[k]])) });
      return listRecords(ctx, a, { ...(a.filter ?? {}), ...(a.lineId ? { lineId: a.lineId } : {}), ...(a.status ? { status: a.status } : {}) });
    },
    // Raw feed payloads of every source: operations data (see authorization.ts for why not a partner's own).
    rejectedUsage: (_: unknown, a: PageArgs & { filter?: RecordFilter }, ctx: UsageContext) => {
      requireStaff(ctx.caller, 'read rejected usage records');
      refuseNul(Object.fromEntries(RECORD_FILTER_TEXTS.map((k) => [`filter.${k}`, a.filter?.[k]])));
      return listRecords(ctx, a, { ...(a.filter ?? {}), status: 'REJECTED' });
    },
    partnerUsageEntitlements: (_: unknown, a: PageArgs & { partnerId?: string | null }, ctx: UsageContext) => {
      requireStaff(ctx.caller, "read partners' usage entitlements");
      refuseNul({ partnerId: a.partnerId, after: a.after });
      return listPartnerUsageEntitlements(usageRuntimeOf(ctx.runtime).sql, a);
    },
  },
  Mutation: {
    async recordUsage(_: unknown, a: { input: { source?: string; records: unknown[] } }, ctx: UsageContext) {
      allow(ctx.caller, INGESTERS);
      const outcomes = await recordUsage(usageRuntimeOf(ctx.runtime).pipeline, a.input, usageSenderOf(ctx.caller));
      return {
        results: results(outcomes, ctx),
        rated: outcomes.filter((o) => !o.duplicate && o.status === 'RATED').length,
        rejected: outcomes.filter((o) => !o.duplicate && o.status === 'REJECTED').length,
        duplicates: outcomes.filter((o) => o.duplicate).length,
      };
    },
    async setPartnerUsageEntitlement(_: unknown, a: { input: { partnerId: string; kind: string } }, ctx: UsageContext) {
      allow(ctx.caller, ['ADMIN']);
      return { entitlement: await setPartnerUsageEntitlement(usageRuntimeOf(ctx.runtime).sql, a.input, ctx.caller, now(ctx)) };
    },
    async reprocessRejected(_: unknown, a: { input: ReprocessCommand }, ctx: UsageContext) {
      allow(ctx.caller, OPERATORS);
      const usage = usageRuntimeOf(ctx.runtime);
      const { outcomes, pageInfo } = await reprocessRejectedPage(usage.sql, usage.pipeline, a.input);
      return { results: results(outcomes, ctx), rated: outcomes.filter((o) => !o.duplicate && o.status === 'RATED').length, stillRejected: outcomes.filter((o) => o.status === 'REJECTED').length, pageInfo };
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
    async setSpendAlert(_: unknown, a: { input: SetSpendAlertInput }, ctx: UsageContext) {
      const usage = usageRuntimeOf(ctx.runtime);
      refuseNul({ 'input.billingAccountId': a.input.billingAccountId, 'input.lineId': a.input.lineId, 'input.idempotencyKey': a.input.idempotencyKey });
      await requireAccount(usage.sql, ctx.caller, String(a.input.billingAccountId), "set this billing account's spend alerts");
      const spendAlert = await setSpendAlert(usage, a.input, ctx.caller, now(ctx));
      ctx.runtime.relay.nudge();
      return { spendAlert };
    },
    async clearSpendAlert(_: unknown, a: { input: Omit<SetSpendAlertInput, 'amount'> }, ctx: UsageContext) {
      const usage = usageRuntimeOf(ctx.runtime);
      refuseNul({ 'input.billingAccountId': a.input.billingAccountId, 'input.lineId': a.input.lineId, 'input.idempotencyKey': a.input.idempotencyKey });
      await requireAccount(usage.sql, ctx.caller, String(a.input.billingAccountId), "clear this billing account's spend alerts");
      return clearSpendAlert(usage, a.input, now(ctx));
    },
    chargingSession(_: unknown, a: { input: ChargingSessionRequest }, ctx: UsageContext) {
      allow(ctx.caller, ['SYSTEM', 'ADMIN', 'PARTNER']);
      const caller = sessionCallerOf(ctx.caller, a.input?.partnerId);
      const problem = sessionInputProblem(a.input, now(ctx), caller);
      if (problem) throw badInput(`input.${problem.field}`, problem.message);
      return handleChargingSession(usageRuntimeOf(ctx.runtime), ctx.runtime.messaging.nc, a.input, now(ctx), caller);
    },
  },
  Line: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    async usage(line: { id: string }, args: { period?: string }, ctx: UsageContext) {
      refuseNul({ id: line.id });
      const sql = usageRuntimeOf(ctx.runtime).sql;
      await requireLine(sql, ctx.caller, line.id, "read this line's usage");
      // A customer is let in by the account holding the line now; the line's time with another
      // holder (records rated to an account they do not own) is not theirs to read.
      const accounts = isStaff(ctx.caller) ? undefined : [...(await ownedAccounts(sql, ctx.caller))];
      return lineUsage(usageRuntimeOf(ctx.runtime), line.id, args.period, now(ctx), accounts);
    },
  },
  BillingAccount: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    async usage(account: { id: string }, args: { period?: string }, ctx: UsageContext) {
      refuseNul({ id: account.id });
      await requireAccount(usageRuntimeOf(ctx.runtime).sql, ctx.caller, account.id, "read this billing account's usage");
      return accountUsage(usageRuntimeOf(ctx.runtime), account.id, args.period, now(ctx));
    },
    async spendAlerts(account: { id: string }, _: unknown, ctx: UsageContext) {
      refuseNul({ id: account.id });
      const sql = usageRuntimeOf(ctx.runtime).sql;
      await requireAccount(sql, ctx.caller, account.id, "read this billing account's spend alerts");
      return spendAlertsOf(sql, account.id, now(ctx));
    },
  },
  PartnerUsageEntitlement: {
    changes: (e: PartnerUsageEntitlement, _: unknown, ctx: UsageContext) => changesOf(ctx, e.partnerId),
  },
  UsageRecord: {
    __resolveReference: (ref: { id: string }, ctx: UsageContext) => readableRecord(ctx, ref.id),
    price: (r: UsageRecord) => (r.price != null && r.currency ? { amount: r.price, currency: r.currency } : null),
    amountCharged: (r: UsageRecord) => (r.amountCharged != null && r.currency ? { amount: r.amountCharged, currency: r.currency } : null),
    unpaidAmount: (r: UsageRecord) => (r.unpaidAmount != null && r.currency ? { amount: r.unpaidAmount, currency: r.currency } : null),
    ratingTrace: (r: UsageRecord) => (r.rating ? JSON.parse(r.rating) : null),
    // The payload as sent stays in the table (operations data, like a rejected record's raw).
    rejections: async (r: UsageRecord, _: unknown, ctx: UsageContext) =>
      toldHistory(r, await rejectionsOf(ctx, r.id)).map((h) => ({ rejectionCode: h.rejection_code, rejectionReason: h.rejection_reason, receivedAt: h.received_at, rejectedAt: h.rejected_at, reprocessedAt: h.reprocessed_at })),
  },
};
