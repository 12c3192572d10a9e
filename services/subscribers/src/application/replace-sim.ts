import { badInput, conflict, notFound } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { transitionLine, type LineStatus } from '../domain/lifecycle';
import { LINE_ACTION_OF } from '../domain/order';
import { assertIdempotencyKey, normalizeIccid } from '../domain/validation';
import { Line, ProductOrder } from '../persistence/entities';
import type { CatalogClient } from '../ports/catalog-client';
import type { LineOrderResult } from './add-line';
import { assertNoOpenOrder, flushOrder, lockLine, planFeesOfLine } from './line-orders';
import type { PlanFeesRequest } from './plan-fees';
import { findReplayedLineOrder, findReplayedOrder, placeOrder } from './place-order';
import { applyDueSubscriptions } from './activate-due-subscriptions';

export interface ReplaceSimCommand {
  lineId: string;
  /** The new SIM's ICCID (ITU-T E.118), as printed on the card: spaces and dashes are dropped. */
  iccid: string;
  reason?: string | null;
  /** Required: the order charges the plan's SIM_REPLACEMENT fees. */
  idempotencyKey: string;
  now: Date;
}

/** What a SIM_REPLACEMENT order carries from placement to completion (`request` JSON), with its plan fees. */
export interface SimReplacementRequest extends PlanFeesRequest {
  reason: string | null;
  /** The new SIM, normalised. */
  iccid: string;
  /** The SIM the line had when the order was placed (the network moves the line off it). */
  previousIccid: string | null;
}

/**
 * Orders a new SIM for a live line (lost, stolen, broken card). Refused at once when the line's
 * status does not allow it (ACTIVE and SUSPENDED do, `lifecycle.ts`), when another order for the
 * line is open, or when the SIM is in use: on a line that is not terminated (this one included) or
 * reserved by another open SIM replacement. The order carries the SIM_REPLACEMENT fees of the
 * line's plans (`planFeesOfLine`), read now; completion charges those of the plan then in force. The
 * line takes the SIM only then, after the network has.
 */
export async function replaceSim(em: Em, catalog: CatalogClient | null, c: ReplaceSimCommand): Promise<LineOrderResult> {
  const { now, ...input } = c;
  if (!c.idempotencyKey?.trim()) throw badInput('input.idempotencyKey', 'A SIM replacement is charged: give it an idempotency key so a retry is not charged twice', 'IDEMPOTENCY_KEY_REQUIRED');
  assertIdempotencyKey(c.idempotencyKey);
  // The catalog is asked before the line is locked (it may take seconds; not for a replay), and
  // under the lock only for a plan it did not show then.
  const early = await findReplayedLineOrder(em, c.lineId, c.idempotencyKey, 'SIM_REPLACEMENT', input);
  if (early) return { order: early, line: await em.findOneOrFail(Line, { id: early.lineId }) };
  const read = await planFeesOfLine(em, catalog, c.lineId, 'SIM_REPLACEMENT');
  // Locked before the checks, as every line order: a second request waits, then sees this order.
  const line = await lockLine(em, c.lineId);
  const replay = await findReplayedOrder(em, line?.billingAccountId, c.idempotencyKey, 'SIM_REPLACEMENT', input);
  if (replay) return { order: replay, line: await em.findOneOrFail(Line, { id: replay.lineId }) };
  const iccid = normalizeIccid(c.iccid ?? '');
  if (!line) throw notFound('Line', c.lineId, 'input.lineId');
  // A plan change due since the boundary is started first (the sweep's step): the fees are read on the plan in force now.
  await applyDueSubscriptions(em, line, now);
  transitionLine(line.status as LineStatus, LINE_ACTION_OF.SIM_REPLACEMENT!, 'input.lineId');
  await assertNoOpenOrder(em, line.id);
  await assertSimFree(em, iccid, line);
  const { planFees } = await planFeesOfLine(em, catalog, line.id, 'SIM_REPLACEMENT', read.byVersion);
  const request: SimReplacementRequest = { reason: c.reason ?? null, iccid, previousIccid: line.iccid ?? null, planFees };
  const order = placeOrder(em, { kind: 'SIM_REPLACEMENT', billingAccountId: line.billingAccountId, lineId: line.id, request: { ...request }, idempotencyKey: c.idempotencyKey, input, now });
  await flushOrder(em);
  return { line, order };
}

/**
 * CONFLICT `ICCID_DUPLICATE` (`input.iccid`) when `iccid` is on a line that is not terminated (the
 * partial unique index `line_iccid_live_unique` would refuse it) or, with `openOrders`, when another
 * open SIM replacement is taking it.
 */
export async function assertSimFree(em: Em, iccid: string, line: Line, openOrders = true): Promise<void> {
  const holder = await em.findOne(Line, { iccid, status: { $ne: 'TERMINATED' } });
  if (holder) {
    // The other line is not named: the caller may be a customer, and it may be someone else's.
    throw conflict('ICCID_DUPLICATE', holder.id === line.id ? `SIM ${iccid} is already this line's SIM` : `SIM ${iccid} is in use by another line`, { field: 'input.iccid' });
  }
  if (!openOrders) return;
  const open = await em.find(ProductOrder, { kind: 'SIM_REPLACEMENT', status: { $in: ['ACKNOWLEDGED', 'IN_PROGRESS'] }, lineId: { $ne: line.id } });
  const taking = open.find((o) => (JSON.parse(o.request) as Partial<SimReplacementRequest>).iccid === iccid);
  if (taking) throw conflict('ICCID_DUPLICATE', `SIM ${iccid} is being put on another line`, { field: 'input.iccid' });
}
