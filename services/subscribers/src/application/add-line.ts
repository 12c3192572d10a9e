import { conflict, newId, notFound } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { CollectionsHold, Line, ProductOrder, Subscription } from '../persistence/entities';
import { assertOptionalIdempotencyKey, normalizeIccid, normalizeImsi, normalizeMsisdn } from '../domain/validation';
import type { CatalogClient } from '../ports/catalog-client';
import { emitLineState, emitSubscription } from './events';
import { feesOn } from '../domain/plan-terms';
import { assertPlanFits, findPlan } from './plans';
import { findReplayedOrder, placeOrder } from './place-order';
import { lockAccountOpen } from './close-billing-account';
import { assertNumberNotQuarantined } from './number-quarantine';

export interface AddLineCommand {
  billingAccountId: string;
  msisdn: string;
  iccid?: string | null;
  imsi?: string | null;
  planCode?: string | null;
  idempotencyKey?: string | null;
  now: Date;
  /** Days a number released by another customer's line is held back (SUBSCRIBERS_NUMBER_QUARANTINE_DAYS; 0: none). */
  quarantineDays: number;
}

export interface LineOrderResult {
  line: Line;
  order: ProductOrder;
}

/**
 * Orders a new line: the line (PENDING) and, with a plan, its subscription (PENDING, pinned to
 * the plan's current version) plus a NEW_LINE order that provisioning fulfils. Refused while the
 * account's lines are held for collections (an unpaid invoice's dunning): no new service for an
 * account dunned for non-payment. A retry of an order placed before the hold still replays it.
 */
export async function addLine(em: Em, catalog: CatalogClient, c: AddLineCommand): Promise<LineOrderResult> {
  const { now, quarantineDays, ...input } = c;
  assertOptionalIdempotencyKey(c.idempotencyKey);
  // The key is the account's (input.billingAccountId): looked up before any other validation, under
  // its lock (see findReplayedOrder): a retry sent while the first request runs waits for it and
  // gets its order (before, it found none yet and was refused MSISDN_DUPLICATE by its own line).
  const replay = await findReplayedOrder(em, c.billingAccountId, c.idempotencyKey, 'NEW_LINE', input);
  if (replay) return { order: replay, line: await em.findOneOrFail(Line, { id: replay.lineId }) };
  const msisdn = normalizeMsisdn(c.msisdn);
  const iccid = c.iccid ? normalizeIccid(c.iccid) : null;
  const imsi = c.imsi ? normalizeImsi(c.imsi) : null;
  // Read under a share lock and refused ACCOUNT_CLOSED once closed (closeBillingAccount locks it to close it).
  const account = await lockAccountOpen(em, c.billingAccountId);
  if (!account) throw notFound('BillingAccount', c.billingAccountId, 'input.billingAccountId');
  await assertNotInCollections(em, account.id);
  if (await em.findOne(Line, { msisdn, status: { $ne: 'TERMINATED' } })) throw conflict('MSISDN_DUPLICATE', `MSISDN ${msisdn} is already in use`, { field: 'input.msisdn' });
  if (iccid && (await em.findOne(Line, { iccid, status: { $ne: 'TERMINATED' } }))) throw conflict('ICCID_DUPLICATE', `SIM ${iccid} is already in use`, { field: 'input.iccid' });
  const resolved = c.planCode ? await findPlan(catalog, c.planCode) : null;
  const lineId = newId<string>('line');
  if (resolved) await assertPlanFits(em, resolved, account, { now });

  const line = em.create(Line, { id: lineId, billingAccountId: account.id, msisdn, iccid, imsi, status: 'PENDING', planCode: resolved?.terms.code ?? null, createdAt: now, updatedAt: now });
  await em.flush();
  // Checked once the line is written: the insert waits (live-number unique index) for a termination of
  // the number still being committed, so that termination is seen here and holds the number back.
  await assertNumberNotQuarantined(em, { msisdn, customerId: account.customerId, days: quarantineDays, now });
  let subscription: Subscription | null = null;
  if (resolved) {
    subscription = em.create(Subscription, {
      id: newId('subscription'),
      lineId,
      billingAccountId: account.id,
      planCode: resolved.terms.code,
      planVersionId: resolved.plan.versionId,
      status: 'PENDING',
      sharedAllowances: resolved.terms.sharedAllowances,
      addOns: '[]',
      startsAt: now,
      endsAt: null,
      createdAt: now,
    });
  }
  const order = placeOrder(em, {
    kind: 'NEW_LINE',
    billingAccountId: account.id,
    lineId,
    // Every ACTIVATION fee of the plan (a starter pack and a SIM card are two), charged when the line goes live.
    request: { subscriptionId: subscription?.id ?? null, planCode: resolved?.terms.code ?? null, fees: resolved ? feesOn(resolved.terms, 'ACTIVATION') : [] },
    idempotencyKey: c.idempotencyKey,
    input,
    now,
  });
  emitLineState(em, line, order.id, now);
  if (subscription) emitSubscription(em, 'subscriptionCreated', subscription, line, account, order.id, now);
  await em.flush();
  return { line, order };
}

/** An account with open collections holds (its dunning still running) takes no new line. */
async function assertNotInCollections(em: Em, billingAccountId: string): Promise<void> {
  const holds = await em.find(CollectionsHold, { billingAccountId, liftedAt: null }, { orderBy: { placedAt: 'asc', id: 'asc' } });
  if (holds.length === 0) return;
  const holders = [...new Set(holds.map((h) => h.holder))];
  throw conflict(
    'ACCOUNT_IN_COLLECTIONS',
    `Billing account ${billingAccountId} is held for collections by ${holders.join(', ')}; no new line until the debt is settled and the hold lifted`,
    { field: 'input.billingAccountId', holders },
  );
}
