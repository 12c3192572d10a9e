import type DataLoader from 'dataloader';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { conflict, decodeCursor, money as contractMoney, notFound, round, DomainError, pageSize, scalarResolvers, toConnection, type PageArgs } from '@ledgerline/contracts';
import { requireRole, retryScopeOf, transactionalRetrying, type Em, type RequestContext } from '@ledgerline/platform';
import { BillingAccount, BillingAccountChange, CollectionsHold, CommunicationMessage, Customer, Line, OneOffCharge, ProductOrder, Subscription, UpsellOffer } from '../persistence/entities';
import { createCustomer, type CreateCustomerCommand } from '../application/create-customer';
import { openBillingAccount, type OpenBillingAccountCommand } from '../application/open-billing-account';
import { updateBillingAccount, type UpdateBillingAccountCommand } from '../application/update-billing-account';
import { closeBillingAccount, type CloseBillingAccountCommand } from '../application/close-billing-account';
import { listAccountChanges } from '../application/billing-account-changes';
import { addLine, type AddLineCommand, type LineOrderResult } from '../application/add-line';
import { subscribe, type SubscribeCommand } from '../application/subscribe';
import { addAddOn, type AddAddOnCommand } from '../application/add-add-on';
import { endAddOn, type EndAddOnCommand } from '../application/end-add-on';
import { changePlan, previewPlanChange, type PlanChangeCommand, type PlanChangePreview } from '../application/plan-change';
import { planChangeFees } from '../application/plan-fees';
import { lineUniqueConflict, requestLineChange, type LineChangeCommand } from '../application/line-orders';
import { replaceSim, type ReplaceSimCommand } from '../application/replace-sim';
import { addOnChargeToRefund, completeOrder, failOrder, fixAddOnSettlementInstant, loadOrder, ordersAfterCompletion, recordNetworkUndone, refundAddOn, startOrder } from '../application/fulfil-order';
import { confirmNetworkUndone } from '../application/confirm-network-undone';
import { liftCollectionsHold, listOpenCollectionsHolds, placeCollectionsHold, type CollectionsHoldCommand, type CollectionsHoldOutcome } from '../application/collections-holds';
import { normalizeMsisdn } from '../domain/validation';
import { subscriptionsAt } from '../domain/subscriptions-at';
import { onPlanAt } from '../application/lines-on-plan';
import { closeUpsellOffer, presentUpsellOffer, remindUpsellOffer, respondToUpsellOffer } from '../application/upsell';
import { catalogForPublic, type CatalogClient } from '../ports/catalog-client';
import type { OrderDispatcher } from '../ports/order-dispatcher';
import type { WalletsPort } from '../ports/wallets-client';
import type { ProvisioningAdapter } from '../ports/provisioning';
import { canSeeCustomer, isStaff, requireOwnAccount, requireReader, requireStaff } from './authorization';

export interface SubscribersDeps {
  catalog: CatalogClient;
  /** Settles add-ons (prepaid payment, buckets); null without a wallets service. */
  wallets: WalletsPort | null;
  provisioning: ProvisioningAdapter;
  dispatcher: OrderDispatcher;
  /** Days a terminated line's number is held back from other customers (0: off). */
  numberQuarantineDays: number;
}

export interface SubscribersContext extends RequestContext {
  deps: SubscribersDeps;
  customers: DataLoader<string, Customer | null>;
  accounts: DataLoader<string, BillingAccount | null>;
  lines: DataLoader<string, Line | null>;
  orders: DataLoader<string, ProductOrder | null>;
  accountsOfCustomer: DataLoader<string, BillingAccount[]>;
  childAccounts: DataLoader<string, BillingAccount[]>;
  linesOfAccount: DataLoader<string, Line[]>;
  subscriptionsOfLine: DataLoader<string, Subscription[]>;
  ordersOfLine: DataLoader<string, ProductOrder[]>;
  ordersOfAccount: DataLoader<string, ProductOrder[]>;
  chargesOfAccount: DataLoader<string, OneOffCharge[]>;
}

type Input<C> = { input: Omit<C, 'now'> };

/** The line's subscriptions as they stand at the request's time (`subscriptionsAt`), and the one a due change started, if any. */
async function subscriptionsNow(ctx: SubscribersContext, l: Line): Promise<{ all: Subscription[]; started: Subscription | undefined }> {
  const stored = await ctx.subscriptionsOfLine.load(l.id);
  const all = subscriptionsAt(stored, ctx.runtime.clock.now());
  return { all, started: all.find((s, i) => s.status === 'ACTIVE' && stored[i]!.status === 'SCHEDULED') };
}

/**
 * Runs a use case in a transaction with the request's clock, then wakes the outbox relay. A deadlock or
 * serialization victim runs again (the use cases here write only in the transaction; catalog and
 * wallets are only read), except with `once`: a use case that moves money or allowances in wallets
 * inside its transaction (completeOrder), whose workflow step retries it instead.
 */
async function mutate<T>(ctx: SubscribersContext, work: (em: Em, now: Date) => Promise<T>, options: { once?: boolean } = {}): Promise<T> {
  const now = ctx.runtime.clock.now();
  try {
    const result = options.once ? await ctx.em.transactional((em) => work(em as Em, now)) : await transactionalRetrying(ctx.em, retryScopeOf(ctx), (em) => work(em, now));
    ctx.runtime.relay.nudge();
    return result;
  } catch (error) {
    // Two requests raced past the checks: the partial unique indexes have the last word.
    if (error instanceof UniqueConstraintViolationException) {
      const perLine = lineUniqueConflict(error);
      if (perLine) throw perLine;
      const msg = error.message;
      if (msg.includes('msisdn')) throw conflict('MSISDN_DUPLICATE', 'This MSISDN is already in use', { field: 'input.msisdn' });
      if (msg.includes('iccid')) throw conflict('ICCID_DUPLICATE', 'This SIM is already in use', { field: 'input.iccid' });
      if (msg.includes('idempotency')) throw conflict('IDEMPOTENCY_KEY_REUSED', 'This idempotency key is being used by another request', { field: 'input.idempotencyKey' });
    }
    throw error;
  }
}

/**
 * Hands a committed order to fulfilment. A hand-over that fails (Temporal unreachable, the inline
 * saga stopped by an outage or its process stopping) is logged, not answered as the request's
 * failure: the order exists, the sweep hands it over (or resumes its saga), and the caller is
 * answered the order as it stands (a retry without a key would be refused as a duplicate).
 */
async function handOver(ctx: SubscribersContext, orderId: string): Promise<void> {
  await ctx.deps.dispatcher.dispatch(orderId, ctx.runtime).catch((err: unknown) => ctx.runtime.logger.warn({ err, orderId }, 'order placed but its fulfilment stopped; the sweep takes it up'));
}

/** Places an order, then hands it to fulfilment and reads back the line and order as they are now. */
async function order(ctx: SubscribersContext, place: (em: Em, now: Date) => Promise<LineOrderResult>) {
  const placed = await mutate(ctx, place);
  if (placed.order.status === 'ACKNOWLEDGED') await handOver(ctx, placed.order.id);
  const em = ctx.em.fork();
  return { line: await em.findOneOrFail(Line, { id: placed.line.id }), order: await em.findOneOrFail(ProductOrder, { id: placed.order.id }) };
}

/**
 * Places or lifts a collections hold, then hands its bar/resume orders to fulfilment and reads
 * back the lines they changed and the lines not done: waiting for another order, or whose bar or
 * resumption the network refused (FAILED: it changed nothing; the request asked again with its key
 * tries once more). The holds are read back too (a hold's `barOrder` is its latest attempt).
 */
async function collectionsHold(ctx: SubscribersContext, work: (em: Em, now: Date) => Promise<CollectionsHoldOutcome>) {
  requireStaff(ctx.caller, 'hold or release lines for collections');
  const r = await mutate(ctx, work);
  for (const o of r.orders) if (o.status === 'ACKNOWLEDGED') await handOver(ctx, o.id);
  const em = ctx.em.fork();
  const after = r.orders.length ? await em.find(ProductOrder, { id: { $in: r.orders.map((o) => o.id) } }) : [];
  const refused = after.filter((o) => o.status === 'FAILED');
  const orders = after.filter((o) => o.status !== 'FAILED');
  if (refused.length) ctx.runtime.logger.warn({ orders: refused.map((o) => ({ id: o.id, kind: o.kind, lineId: o.lineId, failureCode: o.failureCode })) }, 'collections bar/resume refused; the line is answered as waiting until a retry goes through');
  const waiting = [...new Set([...r.waiting, ...refused.map((o) => o.lineId)])];
  const ids = [...new Set([...orders.map((o) => o.lineId), ...waiting])];
  const lines = new Map((ids.length ? await em.find(Line, { id: { $in: ids } }) : []).map((l) => [l.id, l]));
  return { holds: r.holds, lines: orders.map((o) => lines.get(o.lineId)!), waiting: waiting.map((id) => lines.get(id)!) };
}

/**
 * A FAILED ADD_ON whose charge wallets took (a completion that failed after the charge) gets it
 * back, as the inline saga's compensation does: once (the refund's fixed id, made under the order's
 * lock), nothing for a charge wallets refused. Wallets unreachable: the order stays FAILED and the
 * step answers the outage, so the workflow retries failOrder (idempotent) until the money is back.
 */
async function refundFailedAddOn(ctx: SubscribersContext, orderId: string): Promise<void> {
  const wallets = ctx.deps.wallets;
  if (!wallets || !(await addOnChargeToRefund(ctx.em.fork() as Em, { wallets, catalog: ctx.deps.catalog }, orderId))) return;
  await mutate(ctx, async (em, now) => {
    const order = await loadOrder(em, orderId);
    if (order.status === 'FAILED') await refundAddOn(em, order, now);
  });
}

/** Who the audit trail records as making a change: the caller's subject and role. */
const actor = (ctx: SubscribersContext) => ({ subject: ctx.caller.subject, role: ctx.caller.role });

function requireSystem(ctx: SubscribersContext): void {
  if (ctx.caller.role !== 'SYSTEM') throw new DomainError('FORBIDDEN', 'Only Ledgerline workflows may do this', {}, 'FORBIDDEN');
}

/** Staff may change any line; a customer only their own (another's answers as an unknown line), and only where `customerMay`. */
async function authorizeLine(ctx: SubscribersContext, lineId: string, action: string, customerMay: boolean): Promise<void> {
  if (isStaff(ctx.caller)) return;
  if (!customerMay) return requireStaff(ctx.caller, action);
  const line = await ctx.lines.load(lineId);
  requireOwnAccount(ctx.caller, line ? await ctx.accounts.load(line.billingAccountId) : null, action, () => notFound('Line', lineId, 'input.lineId'));
}

/**
 * The plans this caller may be told about when choosing one: staff learn that a plan is published
 * for a later date (PLAN_NOT_YET_EFFECTIVE, with the date); a customer is answered as for an
 * unknown code, as the catalog answers them (scheduled plans are staff's there).
 */
const catalogSeenBy = (ctx: SubscribersContext): CatalogClient => (isStaff(ctx.caller) ? ctx.deps.catalog : catalogForPublic(ctx.deps.catalog));

/** Rows of other customers read as null for a customer (existence is not revealed). */
async function visibleAccount(ctx: SubscribersContext, account: BillingAccount | null): Promise<BillingAccount | null> {
  requireReader(ctx.caller);
  return account && canSeeCustomer(ctx.caller, account.customerId) ? account : null;
}
async function visibleLine(ctx: SubscribersContext, line: Line | null): Promise<Line | null> {
  requireReader(ctx.caller);
  if (!line || isStaff(ctx.caller)) return line;
  return (await visibleAccount(ctx, await ctx.accounts.load(line.billingAccountId))) ? line : null;
}
function visibleCustomer(ctx: SubscribersContext, customer: Customer | null): Customer | null {
  requireReader(ctx.caller);
  return customer && canSeeCustomer(ctx.caller, customer.id) ? customer : null;
}

const lineChange = (kind: LineChangeCommand['kind']) => async (_: unknown, a: Input<Omit<LineChangeCommand, 'kind'>>, ctx: SubscribersContext) => {
  await authorizeLine(ctx, a.input.lineId, `${kind.toLowerCase()} a line`, kind === 'SUSPEND');
  return order(ctx, (em, now) => requestLineChange(em, { ...a.input, kind, now }, ctx.deps.catalog));
};

export const resolvers = {
  ...scalarResolvers,
  Query: {
    async autopayToken(_: unknown, a: { billingAccountId: string }, ctx: SubscribersContext) {
      requireSystem(ctx);
      return (await ctx.em.fork().findOne(BillingAccount, { id: a.billingAccountId }))?.autopayToken ?? null;
    },
    customer: async (_: unknown, a: { id: string }, ctx: SubscribersContext) => visibleCustomer(ctx, await ctx.customers.load(a.id)),
    async customers(_: unknown, a: PageArgs & { filter?: { kind?: string; namePrefix?: string } }, ctx: SubscribersContext) {
      requireStaff(ctx.caller, 'list customers');
      const limit = pageSize(a);
      const where: Record<string, unknown> = {};
      if (a.filter?.kind) where.kind = a.filter.kind;
      if (a.filter?.namePrefix) where.name = { $ilike: `${a.filter.namePrefix.replace(/[%_\\]/g, '\\$&')}%` };
      const totalCount = await ctx.em.count(Customer, where);
      if (a.after) where.id = { $gt: decodeCursor(a.after) };
      const rows = await ctx.em.find(Customer, where, { orderBy: { id: 'asc' }, limit: limit + 1 });
      return toConnection(rows, limit, (c) => c.id, Boolean(a.after), totalCount);
    },
    billingAccount: async (_: unknown, a: { id: string }, ctx: SubscribersContext) => visibleAccount(ctx, await ctx.accounts.load(a.id)),
    async billingAccounts(_: unknown, a: PageArgs & { filter?: { paymentMode?: string | null; status?: string | null } | null }, ctx: SubscribersContext) {
      requireStaff(ctx.caller, 'list billing accounts');
      const limit = pageSize(a);
      const where: Record<string, unknown> = {};
      if (a.filter?.paymentMode) where.paymentMode = a.filter.paymentMode;
      if (a.filter?.status) where.status = a.filter.status;
      const totalCount = await ctx.em.count(BillingAccount, where);
      if (a.after) where.id = { $gt: decodeCursor(a.after) };
      const rows = await ctx.em.find(BillingAccount, where, { orderBy: { id: 'asc' }, limit: limit + 1 });
      return toConnection(rows, limit, (b) => b.id, Boolean(a.after), totalCount);
    },
    line: async (_: unknown, a: { id: string }, ctx: SubscribersContext) => visibleLine(ctx, await ctx.lines.load(a.id)),
    lineByMsisdn: async (_: unknown, a: { msisdn: string }, ctx: SubscribersContext) => visibleLine(ctx, await ctx.em.findOne(Line, { msisdn: normalizeMsisdn(a.msisdn, 'msisdn'), status: { $ne: 'TERMINATED' } })),
    async lines(_: unknown, a: PageArgs & { filter?: { billingAccountId?: string; status?: string; planCode?: string } }, ctx: SubscribersContext) {
      requireStaff(ctx.caller, 'list lines');
      const limit = pageSize(a);
      const where: Record<string, unknown> = {};
      if (a.filter?.billingAccountId) where.billingAccountId = a.filter.billingAccountId;
      if (a.filter?.status) where.status = a.filter.status;
      // The plan each line is on now, as `Line.planCode` reads it (a change due since the boundary counts before the sweep writes it).
      if (a.filter?.planCode) Object.assign(where, onPlanAt(ctx.em as Em, a.filter.planCode, ctx.runtime.clock.now()));
      const totalCount = await ctx.em.count(Line, where);
      if (a.after) where.id = { $gt: decodeCursor(a.after) };
      const rows = await ctx.em.find(Line, where, { orderBy: { id: 'asc' }, limit: limit + 1 });
      return toConnection(rows, limit, (l) => l.id, Boolean(a.after), totalCount);
    },
    async openCollectionsHolds(_: unknown, a: PageArgs & { filter?: { holderPrefix?: string | null } | null }, ctx: SubscribersContext) {
      requireStaff(ctx.caller, 'list collections holds');
      const limit = pageSize(a);
      const { rows, totalCount } = await listOpenCollectionsHolds(ctx.em, { holderPrefix: a.filter?.holderPrefix, after: a.after ? decodeCursor(a.after) : null, limit: limit + 1 });
      return toConnection(rows, limit, (h) => h.id, Boolean(a.after), totalCount);
    },
    productOrder: async (_: unknown, a: { id: string }, ctx: SubscribersContext) => {
      // Refused before the lookup: whether an order id exists is no answer for anonymous callers or partners.
      requireReader(ctx.caller);
      const o = await ctx.orders.load(a.id);
      return o && (await visibleAccount(ctx, await ctx.accounts.load(o.billingAccountId))) ? o : null;
    },
  },
  Mutation: {
    createCustomer: async (_: unknown, a: Input<CreateCustomerCommand>, ctx: SubscribersContext) => (requireStaff(ctx.caller, 'create customers'), { customer: await mutate(ctx, (em, now) => createCustomer(em, { ...a.input, now })) }),
    openBillingAccount: async (_: unknown, a: Input<OpenBillingAccountCommand>, ctx: SubscribersContext) => (requireStaff(ctx.caller, 'open billing accounts'), {
      billingAccount: await mutate(ctx, (em, now) => openBillingAccount(em, { ...a.input, by: actor(ctx), now })),
    }),
    async updateBillingAccount(_: unknown, a: Input<UpdateBillingAccountCommand>, ctx: SubscribersContext) {
      // The customer may change how they pay; only staff change how much credit they get.
      if (a.input.creditLimit !== undefined) requireStaff(ctx.caller, 'change credit limits');
      // Whose customer the account is decides which partner charges its lines: staff only.
      if (a.input.partnerId !== undefined) requireStaff(ctx.caller, "change a billing account's partner");
      requireOwnAccount(ctx.caller, await ctx.accounts.load(a.input.billingAccountId), 'change this billing account', () => notFound('BillingAccount', a.input.billingAccountId, 'input.billingAccountId'));
      const { account, changed } = await mutate(ctx, (em, now) => updateBillingAccount(em, { ...a.input, by: actor(ctx), now }));
      return { billingAccount: account, changed };
    },
    closeBillingAccount: async (_: unknown, a: Input<CloseBillingAccountCommand>, ctx: SubscribersContext) => (requireStaff(ctx.caller, 'close billing accounts'), {
      billingAccount: await mutate(ctx, (em, now) => closeBillingAccount(em, { ...a.input, by: actor(ctx), now })),
    }),
    addLine: (_: unknown, a: Input<AddLineCommand>, ctx: SubscribersContext) => (requireStaff(ctx.caller, 'add lines'), order)(ctx, (em, now) => addLine(em, ctx.deps.catalog, { ...a.input, now, quarantineDays: ctx.deps.numberQuarantineDays })),
    subscribe: async (_: unknown, a: Input<SubscribeCommand>, ctx: SubscribersContext) => (requireStaff(ctx.caller, 'subscribe lines'), { subscription: await mutate(ctx, (em, now) => subscribe(em, ctx.deps.catalog, { ...a.input, now })) }),
    previewPlanChange: async (_: unknown, a: Input<PlanChangeCommand>, ctx: SubscribersContext) => (await authorizeLine(ctx, a.input.lineId, 'change plans', true), previewPlanChange)(ctx.em.fork() as Em, catalogSeenBy(ctx), { ...a.input, now: ctx.runtime.clock.now() }, ctx.deps.wallets),
    async changePlan(_: unknown, a: Input<PlanChangeCommand>, ctx: SubscribersContext) {
      await authorizeLine(ctx, a.input.lineId, 'change plans', true);
      let preview = null;
      const result = await order(ctx, async (em, now) => {
        const r = await changePlan(em, catalogSeenBy(ctx), { ...a.input, now }, ctx.deps.wallets);
        preview = r.preview;
        return r;
      });
      return { ...result, preview };
    },
    async presentUpsellOffer(_: unknown, a: { input: { lineId: string; offerCode: string; period: string; periodStart?: Date | null; periodEnd?: Date | null; rule: string; validForHours?: number } }, ctx: SubscribersContext) {
      requireSystem(ctx);
      const hours = a.input.validForHours ?? 72;
      if (!Number.isInteger(hours) || hours < 1 || hours > 720) throw new DomainError('VALIDITY_INVALID', 'validForHours must be a whole number of hours from 1 to 720', { field: 'input.validForHours' }, 'BAD_USER_INPUT');
      const { periodStart, periodEnd } = a.input;
      if (periodStart && periodEnd && periodEnd <= periodStart) throw new DomainError('PERIOD_BOUNDS_INVALID', 'periodEnd must be after periodStart', { field: 'input.periodEnd' }, 'BAD_USER_INPUT');
      const offer = await mutate(ctx, (em, now) => presentUpsellOffer(em, ctx.deps.catalog, { ...a.input, validForHours: hours, now }));
      return { offer, order: null };
    },
    async respondToUpsellOffer(_: unknown, a: { input: { offerId: string; accept: boolean } }, ctx: SubscribersContext) {
      if (!isStaff(ctx.caller)) {
        const offer = await ctx.em.findOne(UpsellOffer, { id: a.input.offerId });
        requireOwnAccount(ctx.caller, offer ? await ctx.accounts.load(offer.billingAccountId) : null, 'answer offers', () => notFound('UpsellOffer', a.input.offerId, 'input.offerId'));
      }
      const { offer, placed } = await mutate(ctx, (em, now) => respondToUpsellOffer(em, ctx.deps.catalog, { ...a.input, now }));
      if (placed?.order.status === 'ACKNOWLEDGED') await handOver(ctx, placed.order.id);
      const em = ctx.em.fork();
      return { offer: await em.findOneOrFail(UpsellOffer, { id: offer.id }), order: placed ? await em.findOneOrFail(ProductOrder, { id: placed.order.id }) : null };
    },
    async remindUpsellOffer(_: unknown, a: { input: { offerId: string } }, ctx: SubscribersContext) {
      requireSystem(ctx);
      return { offer: await mutate(ctx, (em, now) => remindUpsellOffer(em, ctx.deps.catalog, { ...a.input, now })), order: null };
    },
    async closeUpsellOffer(_: unknown, a: { input: { offerId: string } }, ctx: SubscribersContext) {
      requireSystem(ctx);
      return { offer: await mutate(ctx, (em, now) => closeUpsellOffer(em, { ...a.input, now })), order: null };
    },
    addAddOn: async (_: unknown, a: Input<AddAddOnCommand>, ctx: SubscribersContext) => (await authorizeLine(ctx, a.input.lineId, 'buy add-ons', true), order)(ctx, (em, now) => addAddOn(em, ctx.deps.catalog, { ...a.input, now })),
    async endAddOn(_: unknown, a: Input<EndAddOnCommand>, ctx: SubscribersContext) {
      await authorizeLine(ctx, a.input.lineId, 'end add-ons', true);
      const { line, order, ended } = await mutate(ctx, (em, now) => endAddOn(em, ctx.deps.catalog, { ...a.input, now }));
      return { line, order, addOn: { code: ended.offerCode, startsAt: ended.startsAt, endsAt: ended.endedAt }, refund: ended.refund, unusedDays: ended.unusedDays };
    },
    suspendLine: lineChange('SUSPEND'),
    barLine: lineChange('BAR'),
    resumeLine: lineChange('RESUME'),
    terminateLine: lineChange('TERMINATE'),
    // A customer may, as they may suspend their own line when the phone is lost.
    // Staff only: a SIM replacement moves the number to another card, the SIM-swap fraud a taken-over
    // customer login would allow; an agent checks the customer's identity first.
    replaceSim: async (_: unknown, a: Input<ReplaceSimCommand>, ctx: SubscribersContext) => (await authorizeLine(ctx, a.input.lineId, 'replace SIMs', false), order)(ctx, (em, now) => replaceSim(em, ctx.deps.catalog, { ...a.input, now })),
    placeCollectionsHold: (_: unknown, a: Input<CollectionsHoldCommand>, ctx: SubscribersContext) => collectionsHold(ctx, (em, now) => placeCollectionsHold(em, { ...a.input, now })),
    liftCollectionsHold: (_: unknown, a: Input<CollectionsHoldCommand>, ctx: SubscribersContext) => collectionsHold(ctx, (em, now) => liftCollectionsHold(em, { ...a.input, now })),
    async startOrder(_: unknown, a: { input: { orderId: string } }, ctx: SubscribersContext) {
      requireSystem(ctx);
      return { order: await mutate(ctx, (em, now) => startOrder(em, a.input.orderId, now)) };
    },
    async completeOrder(_: unknown, a: { input: { orderId: string } }, ctx: SubscribersContext) {
      requireSystem(ctx);
      // The workflow retries this step (an outage, a lost answer, a timed-out attempt): the instant an
      // ADD_ON's charge and grants are dated is committed first, so every attempt sends wallets the
      // same requests.
      await mutate(ctx, async (em, now) => fixAddOnSettlementInstant(em, await loadOrder(em, a.input.orderId), now, ctx.deps.wallets));
      const order = await mutate(ctx, (em, now) => completeOrder(em, a.input.orderId, now, { wallets: ctx.deps.wallets, catalog: ctx.deps.catalog }), { once: true });
      // The completion's own orders (a collections bar of a line gone live on a held account). The
      // completion is committed: a hand-over that fails is left to the re-dispatch sweep.
      for (const next of await ordersAfterCompletion(ctx.em.fork() as Em, order)) {
        await ctx.deps.dispatcher.dispatch(next.id, ctx.runtime).catch((err: unknown) => ctx.runtime.logger.warn({ err, orderId: next.id }, 'could not hand the order over; the sweep hands it over again'));
      }
      return { order };
    },
    async failOrder(_: unknown, a: { input: { orderId: string; failureCode?: string; failureMessage?: string; networkUndone?: boolean | null } }, ctx: SubscribersContext) {
      requireSystem(ctx);
      const failure = { code: a.input.failureCode ?? 'ORDER_FAILED', message: a.input.failureMessage ?? 'The order failed' };
      const order = await mutate(ctx, async (em, now) => {
        const failed = await failOrder(em, a.input.orderId, failure, now);
        return a.input.networkUndone ? recordNetworkUndone(em, failed.id, now) : failed;
      });
      await refundFailedAddOn(ctx, order.id);
      return { order };
    },
    async confirmOrderNetworkUndone(_: unknown, a: { input: { orderId: string; note: string } }, ctx: SubscribersContext) {
      requireRole(ctx.caller, ['AGENT', 'ADMIN'], "confirm an order's undo at the network");
      const order = await mutate(ctx, (em, now) => confirmNetworkUndone(em, { ...a.input, by: actor(ctx), now }));
      ctx.runtime.logger.info({ orderId: order.id, kind: order.kind, lineId: order.lineId, by: order.networkUndoneBy, at: order.networkUndoneAt }, "order's undo at the network confirmed by staff");
      return { order };
    },
  },
  Customer: {
    __resolveReference: async (ref: { id: string }, ctx: SubscribersContext) => visibleCustomer(ctx, await ctx.customers.load(ref.id)),
    billingAccounts: (c: Customer, _: unknown, ctx: SubscribersContext) => ctx.accountsOfCustomer.load(c.id),
    notificationPreferences: (c: Customer) => JSON.parse(c.notificationPreferences),
    notifications: (c: Customer, args: { first?: number }, ctx: SubscribersContext) => ctx.em.find(CommunicationMessage, { customerId: c.id }, { orderBy: { createdAt: 'desc', id: 'asc' }, limit: pageSize(args, 50) }),
  },
  BillingAccount: {
    __resolveReference: async (ref: { id: string }, ctx: SubscribersContext) => visibleAccount(ctx, await ctx.accounts.load(ref.id)),
    customer: (a: BillingAccount, _: unknown, ctx: SubscribersContext) => ctx.customers.load(a.customerId),
    parentAccount: (a: BillingAccount, _: unknown, ctx: SubscribersContext) => (a.parentAccountId ? ctx.accounts.load(a.parentAccountId) : null),
    childAccounts: (a: BillingAccount, _: unknown, ctx: SubscribersContext) => ctx.childAccounts.load(a.id),
    lines: (a: BillingAccount, _: unknown, ctx: SubscribersContext) => ctx.linesOfAccount.load(a.id),
    orders: (a: BillingAccount, _: unknown, ctx: SubscribersContext) => ctx.ordersOfAccount.load(a.id),
    oneOffCharges: (a: BillingAccount, _: unknown, ctx: SubscribersContext) => ctx.chargesOfAccount.load(a.id),
    creditLimit: (a: BillingAccount) => (a.creditLimit == null ? null : round(contractMoney(a.creditLimit, a.currency))),
    autopay: (a: BillingAccount) => Boolean(a.autopayToken),
    status: (a: BillingAccount) => a.status ?? 'OPEN',
    /** Staff only (who changed it is staff's business); newest first: the PARTNER rows of the account's trail after its opening. */
    async partnerChanges(a: BillingAccount, _: unknown, ctx: SubscribersContext) {
      requireStaff(ctx.caller, "read a billing account's partner changes");
      const rows = await ctx.em.find(BillingAccountChange, { billingAccountId: a.id, field: 'PARTNER', version: { $gte: 1 } }, { orderBy: { version: 'desc' } });
      return rows.map((r) => ({ partnerId: r.newValue, previousPartnerId: r.oldValue, partnerVersion: r.version, changedAt: r.changedAt, changedBy: r.changedBy, changedByRole: r.changedByRole, viaAccountId: r.viaAccountId }));
    },
    /**
     * The account's audit trail, newest first: staff, and the account's customer (another customer never reaches this
     * account: it reads as null; should one get here, an empty trail). Who exactly, why and the request: staff only.
     */
    async changes(a: BillingAccount, args: PageArgs & { field?: string | null }, ctx: SubscribersContext) {
      requireReader(ctx.caller);
      const limit = pageSize(args, 50);
      if (!canSeeCustomer(ctx.caller, a.customerId)) return toConnection([], limit, () => '', false, 0);
      const { rows, totalCount } = await listAccountChanges(ctx.em, a.id, { field: args.field, after: args.after == null ? null : decodeCursor(args.after), limit });
      return toConnection(rows, limit, (c) => String(c.seq), Boolean(args.after), totalCount);
    },
  },
  BillingAccountChange: {
    changedBy: (c: BillingAccountChange, _: unknown, ctx: SubscribersContext) => (isStaff(ctx.caller) ? c.changedBy : null),
    reason: (c: BillingAccountChange, _: unknown, ctx: SubscribersContext) => (isStaff(ctx.caller) ? c.reason : null),
    requestKey: (c: BillingAccountChange, _: unknown, ctx: SubscribersContext) => (isStaff(ctx.caller) ? c.requestKey : null),
  },
  Line: {
    __resolveReference: async (ref: { id: string }, ctx: SubscribersContext) => visibleLine(ctx, await ctx.lines.load(ref.id)),
    billingAccount: (l: Line, _: unknown, ctx: SubscribersContext) => ctx.accounts.load(l.billingAccountId),
    // As they stand now (`subscriptionsAt`): a plan change due since the boundary reads as started
    // (the new plan ACTIVE and the line's plan, the old one ENDED) before a sweep has written it.
    planCode: async (l: Line, _: unknown, ctx: SubscribersContext) => (await subscriptionsNow(ctx, l)).started?.planCode ?? l.planCode,
    subscription: async (l: Line, _: unknown, ctx: SubscribersContext) => (await subscriptionsNow(ctx, l)).all.find((s) => s.status === 'ACTIVE' || s.status === 'PENDING') ?? null,
    subscriptions: async (l: Line, _: unknown, ctx: SubscribersContext) => (await subscriptionsNow(ctx, l)).all,
    orders: (l: Line, _: unknown, ctx: SubscribersContext) => ctx.ordersOfLine.load(l.id),
    offers: (l: Line, args: { state?: string | null }, ctx: SubscribersContext) => ctx.em.find(UpsellOffer, { lineId: l.id, ...(args.state ? { state: args.state } : {}) }, { orderBy: { createdAt: 'desc', id: 'asc' } }),
    notifications: (l: Line, args: { first?: number }, ctx: SubscribersContext) => ctx.em.find(CommunicationMessage, { lineId: l.id }, { orderBy: { createdAt: 'desc', id: 'asc' }, limit: pageSize(args, 20) }),
    collectionsHolds: (l: Line, args: { all?: boolean | null }, ctx: SubscribersContext) => ctx.em.find(CollectionsHold, { lineId: l.id, ...(args.all ? {} : { liftedAt: null }) }, { orderBy: { placedAt: 'asc', id: 'asc' } }),
  },
  CollectionsHold: {
    line: (h: CollectionsHold, _: unknown, ctx: SubscribersContext) => ctx.lines.load(h.lineId),
    barOrder: (h: CollectionsHold, _: unknown, ctx: SubscribersContext) => (h.barOrderId ? ctx.orders.load(h.barOrderId) : null),
    resumeOrder: (h: CollectionsHold, _: unknown, ctx: SubscribersContext) => (h.resumeOrderId ? ctx.orders.load(h.resumeOrderId) : null),
    billingAccount: (h: CollectionsHold, _: unknown, ctx: SubscribersContext) => ctx.accounts.load(h.billingAccountId),
  },
  LineSubscription: {
    line: (s: Subscription, _: unknown, ctx: SubscribersContext) => ctx.lines.load(s.lineId),
    planVersion: (s: Subscription) => ({ __typename: 'PlanVersion', id: s.planVersionId }),
    addOns: (s: Subscription) => JSON.parse(s.addOns),
  },
  ProductOrder: {
    networkUndoneBy: (o: ProductOrder, _: unknown, ctx: SubscribersContext) => (isStaff(ctx.caller) ? (o.networkUndoneBy ?? null) : null),
    networkUndoneNote: (o: ProductOrder, _: unknown, ctx: SubscribersContext) => (isStaff(ctx.caller) ? (o.networkUndoneNote ?? null) : null),
    line: (o: ProductOrder, _: unknown, ctx: SubscribersContext) => ctx.lines.load(o.lineId),
    billingAccount: (o: ProductOrder, _: unknown, ctx: SubscribersContext) => ctx.accounts.load(o.billingAccountId),
  },
  OneOffCharge: {
    amount: (c: OneOffCharge) => round(contractMoney(c.amount, c.currency)),
  },
  PlanChangePreview: {
    // The same rule completion and the scheduled-plan sweep charge by, so the quote cannot differ from the bill.
    // Orders placed before the field was added carry previews without it.
    carriedAddOns: (p: PlanChangePreview) => p.carriedAddOns ?? [],
    fees: (p: PlanChangePreview) => planChangeFees(p).map(({ fee, when }) => ({ code: fee.code, name: fee.name, amount: round(fee.amount), when })),
  },
  UpsellOffer: {
    name: (o: UpsellOffer) => o.offerName,
    price: (o: UpsellOffer) => round(contractMoney(o.price, o.currency)),
    line: (o: UpsellOffer, _: unknown, ctx: SubscribersContext) => ctx.lines.load(o.lineId),
    order: (o: UpsellOffer, _: unknown, ctx: SubscribersContext) => (o.orderId ? ctx.orders.load(o.orderId) : null),
  },
};
