/**
 * wallets → usage: bundle.renewed says where a subscription's allowance periods run from (see
 * linePeriodAt) and what rolled over into the new one (see period-rollover.ts); bucket.rolledover
 * what rolled over that no renewal announced; bundle.feedue that its paid periods lapsed (see
 * poolPeriodAt).
 */
import { EVENTS, parseBucketRolledOver, parseCloudEvent, type BundleRenewedData } from '@ledgerline/contracts';
import type { Logger, Messaging } from '@ledgerline/platform';
import type { LineDirectory } from '../application/line-directory';
import { recordRolledOver, recordRollover, rolloverEntriesOf } from '../application/period-rollover';
import type { Sql } from '../persistence/sql';
import { consumeBatches } from './jetstream';

/** Returns the line whose periods (or rolled-over units) may have moved, if the event says so. */
export async function applyBundleEvent(directory: LineDirectory, payload: string, logger: Logger, sql?: Sql): Promise<{ lineId: string; billingAccountId: string } | undefined> {
  let event;
  try {
    event = parseCloudEvent(payload);
  } catch (error) {
    return void logger.warn({ err: error }, 'ignoring a wallets message that is not a CloudEvent');
  }
  const d = event.data as Partial<BundleRenewedData> | undefined;
  const anchorAt = d?.anchorAt ? new Date(d.anchorAt) : undefined;
  if (!d?.subscriptionId || !d.lineId || !anchorAt || Number.isNaN(anchorAt.getTime())) return void logger.warn({ id: event.id }, 'bundle.renewed without subscriptionId/lineId/anchorAt ignored');
  const lapsedAt = d.lapsedAt ? new Date(d.lapsedAt) : null;
  await directory.applyPeriodAnchor(d.subscriptionId, d.lineId, anchorAt, lapsedAt && !Number.isNaN(lapsedAt.getTime()) ? lapsedAt : null, d.billingAccountId);
  // Units carried over count in the period's allowance sizes (the caller reloads the line's and its pools' counters).
  const periodStart = d.periodStart ? new Date(d.periodStart) : undefined;
  const rollover = rolloverEntriesOf(d);
  if (sql && rollover.length > 0 && periodStart && !Number.isNaN(periodStart.getTime())) {
    await recordRollover(sql, { subscriptionId: d.subscriptionId, lineId: d.lineId, billingAccountId: d.billingAccountId, planVersionId: d.planVersionId }, periodStart, rollover);
  }
  return { lineId: d.lineId, billingAccountId: d.billingAccountId ?? '' };
}

export function startBundleEventsConsumer(messaging: Messaging, directory: LineDirectory, o: { durable: string; deliverNew: boolean; logger: Logger; sql: Sql; onLine: (lineId: string, billingAccountId: string) => void }) {
  return consumeBatches(messaging, { durable: o.durable, filter: EVENTS.bundleRenewed.subject, max: 200, deliverNew: o.deliverNew, logger: o.logger }, async (batch) => {
    for (const m of batch) {
      const moved = await applyBundleEvent(directory, m.string(), o.logger, o.sql);
      // Events rated before usage learned of the restart (or of the rollover) were counted in the old period (or size): count again.
      if (moved) o.onLine(moved.lineId, moved.billingAccountId);
    }
    for (const m of batch) m.ack();
  });
}

/** bucket.rolledover: returns the line (null: the account's pool) whose counters to reload when the period's rollover grew. */
export async function applyRolledOverEvent(sql: Sql, payload: string, logger: Logger): Promise<{ lineId: string | null; billingAccountId: string } | undefined> {
  let event;
  try {
    event = parseCloudEvent(payload);
  } catch (error) {
    return void logger.warn({ err: error }, 'ignoring a wallets message that is not a CloudEvent');
  }
  const d = parseBucketRolledOver(event.data);
  if (!d) return void logger.warn({ id: event.id }, 'bucket.rolledover without a valid bucket, owner, period or quantity ignored');
  if (!(await recordRolledOver(sql, d))) return undefined;
  return { lineId: d.lineId, billingAccountId: d.billingAccountId };
}

export function startRolledOverConsumer(messaging: Messaging, o: { durable: string; deliverNew: boolean; logger: Logger; sql: Sql; onLine: (lineId: string, billingAccountId: string) => void }) {
  return consumeBatches(messaging, { durable: o.durable, filter: EVENTS.bucketRolledOver.subject, max: 200, deliverNew: o.deliverNew, logger: o.logger }, async (batch) => {
    for (const m of batch) {
      const grown = await applyRolledOverEvent(o.sql, m.string(), o.logger);
      // Records rated before it were judged against the smaller size: count again (a pool's: the account's pool counters).
      if (grown) o.onLine(grown.lineId ?? '', grown.billingAccountId);
    }
    for (const m of batch) m.ack();
  });
}

/** bundle.feedue: the subscription has no paid period from `period` until a top-up renews it. */
export async function applyFeeDueEvent(directory: LineDirectory, payload: string, logger: Logger): Promise<void> {
  let event;
  try {
    event = parseCloudEvent(payload);
  } catch (error) {
    return void logger.warn({ err: error }, 'ignoring a wallets message that is not a CloudEvent');
  }
  const d = event.data as { subscriptionId?: string; lineId?: string; billingAccountId?: string; period?: string };
  const lapsedAt = d?.period ? new Date(d.period) : undefined;
  if (!d?.subscriptionId || !d.lineId || !lapsedAt || Number.isNaN(lapsedAt.getTime())) return void logger.warn({ id: event.id }, 'bundle.feedue without subscriptionId/lineId/period ignored');
  await directory.applyLapse(d.subscriptionId, d.lineId, lapsedAt, null, d.billingAccountId);
}

export function startBundleFeeDueConsumer(messaging: Messaging, directory: LineDirectory, o: { durable: string; deliverNew: boolean; logger: Logger }) {
  return consumeBatches(messaging, { durable: o.durable, filter: EVENTS.bundleFeeDue.subject, max: 200, deliverNew: o.deliverNew, logger: o.logger }, async (batch) => {
    for (const m of batch) await applyFeeDueEvent(directory, m.string(), o.logger);
    for (const m of batch) m.ack();
  });
}
