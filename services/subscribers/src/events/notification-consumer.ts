import { EVENTS, parseCloudEvent } from '@ledgerline/contracts';
import { startDurableConsumers, type Em, type ServiceRuntime } from '@ledgerline/platform';
import { triggerFromEvent, type NotificationTrigger } from '../domain/notifications';
import { recordNotifications } from '../application/notifications';

/**
 * The events customers are told about, and the kind of trigger each makes. Each is a durable
 * `subscribers_notify_<kind>` that production NATS must allow (deploy/nats/authorization.conf;
 * services/platform/test/nats-authorization.test.ts checks the two agree).
 */
export const NOTIFYING_EVENTS = {
  usageNotification: EVENTS.usageNotificationRequested,
  balanceLow: EVENTS.balanceLow,
  balanceDepleted: EVENTS.balanceDepleted,
  bucketExpiring: EVENTS.bucketExpiring,
  bundleFeeDue: EVENTS.bundleFeeDue,
  chargeDue: EVENTS.chargeDue,
  disputeOpened: EVENTS.disputeOpened,
  disputeResolved: EVENTS.disputeResolved,
  billIssued: EVENTS.customerBillCreated,
  // Money received, credited or sent back (domain/money-notifications.ts).
  paymentReceived: EVENTS.paymentCreated,
  topupConfirmed: EVENTS.balanceTopup,
  refundSent: EVENTS.refundCreated,
  payoutSent: EVENTS.walletPaidOut,
  // A card recharge charged and neither credited nor refunded, and how staff resolved it (money-notifications.ts).
  rechargeRefundFailed: EVENTS.rechargeRefundFailed,
  rechargeResolved: EVENTS.rechargeResolved,
  // A credit note on a customer's invoice (CREDIT_NOTE_ISSUED).
  creditNoteIssued: EVENTS.creditNoteCreated,
  // An overdue invoice's dunning steps (domain/dunning-notifications.ts).
  dunningNotice: EVENTS.customerBillDunningNotice,
} as const;

/** Payments, top-ups, refunds, payouts, credit notes and failed recharges: announced from their consumers' first deployment on, not before. */
const MONEY_KINDS = ['paymentReceived', 'topupConfirmed', 'refundSent', 'payoutSent', 'creditNoteIssued', 'rechargeRefundFailed', 'rechargeResolved'];

/**
 * Consumers added after their events were already flowing start at new events: a first deployment
 * does not tell customers about disputes received and decided, or bills issued, before it.
 */
const FROM_NEW_EVENTS = new Set<string>(['disputeOpened', 'disputeResolved', 'billIssued', ...MONEY_KINDS]);

/**
 * One durable consumer per notifying event: each batch becomes stored messages in one
 * transaction, then `onStored` wakes the sender. An event that cannot be read is logged as an
 * error with its payload (it is not retried forever: it would never become readable).
 */
export function startNotificationConsumers(runtime: ServiceRuntime, onStored: () => void): Promise<() => Promise<void>> {
  return startDurableConsumers(
    runtime,
    Object.entries(NOTIFYING_EVENTS).map(([kind, definition]) => ({
      name: `notify_${kind}`,
      filter: definition.subject,
      ...(FROM_NEW_EVENTS.has(kind) ? { startAt: 'new' as const } : {}),
      handle: async (messages) => {
        const triggers: NotificationTrigger[] = [];
        for (const m of messages) {
          try {
            const result = triggerFromEvent(kind as keyof typeof NOTIFYING_EVENTS, parseCloudEvent(m.data));
            if ('trigger' in result) triggers.push(result.trigger);
            else if (result.ignored) runtime.logger.debug({ subject: m.subject, reason: result.invalid }, 'notification event needs no message');
            else runtime.logger.error({ subject: m.subject, reason: result.invalid, payload: m.string() }, 'notification event ignored: it cannot be read');
          } catch (err) {
            runtime.logger.error({ subject: m.subject, err, payload: m.string() }, 'notification event ignored: not a CloudEvent');
          }
        }
        const { stored, unknownAccounts } = await runtime.orm.em.fork().transactional((em) => recordNotifications(em as Em, triggers, runtime.clock.now()));
        if (unknownAccounts.length) runtime.logger.warn({ billingAccountIds: [...new Set(unknownAccounts)] }, 'notification events for unknown billing accounts');
        if (stored) onStored();
      },
    })),
  );
}
