import { deterministicId } from '@ledgerline/contracts';
import type { Em, Logger } from '@ledgerline/platform';
import { BillingAccount, CommunicationMessage, Customer, Line } from '../persistence/entities';
import { accountParams, composeMessage, retryDelaySeconds, routeMessage, type NotificationTrigger, type Preferences } from '../domain/notifications';
import type { NotificationSender } from '../ports/notification-sender';

/**
 * Stores the messages a batch of triggers asks for, one per event and channel (the id is derived
 * from both, so a redelivered event inserts nothing). Triggers about accounts this service does
 * not know are returned, not stored.
 */
export async function recordNotifications(em: Em, triggers: NotificationTrigger[], now: Date): Promise<{ stored: number; unknownAccounts: string[] }> {
  if (triggers.length === 0) return { stored: 0, unknownAccounts: [] };
  const accounts = new Map((await em.find(BillingAccount, { id: { $in: [...new Set(triggers.map((t) => t.billingAccountId))] } })).map((a) => [a.id, a]));
  const customers = new Map((await em.find(Customer, { id: { $in: [...new Set([...accounts.values()].map((a) => a.customerId))] } })).map((c) => [c.id, c]));
  const lineIds = [...new Set(triggers.flatMap((t) => (t.lineId ? [t.lineId] : [])))];
  const lines = new Map((lineIds.length ? await em.find(Line, { id: { $in: lineIds } }) : []).map((l) => [l.id, l]));
  // A line's own number only until the line is terminated: then the number is no longer the
  // customer's (numbers are recycled at once, to another customer), so the line's messages go where
  // an account-level one goes.
  const lineNumber = (lineId: string | null): string | null => {
    const line = lineId ? lines.get(lineId) : undefined;
    return line && line.status !== 'TERMINATED' ? line.msisdn : null;
  };
  // An account-level message (a balance) goes by SMS to the customer's phone, or else to the account's first live line.
  const accountLevel = [...new Set(triggers.filter((t) => !lineNumber(t.lineId)).map((t) => t.billingAccountId))];
  const firstLine = new Map<string, Line>();
  if (accountLevel.length) {
    for (const l of await em.find(Line, { billingAccountId: { $in: accountLevel }, status: { $in: ['ACTIVE', 'SUSPENDED', 'BARRED'] } }, { orderBy: { createdAt: 'asc', id: 'asc' } })) {
      if (!firstLine.has(l.billingAccountId)) firstLine.set(l.billingAccountId, l);
    }
  }
  const rows: CommunicationMessage[] = [];
  const unknownAccounts: string[] = [];
  for (const t of triggers) {
    const account = accounts.get(t.billingAccountId);
    const customer = account && customers.get(account.customerId);
    if (!account || !customer) {
      unknownAccounts.push(t.billingAccountId);
      continue;
    }
    const prefs = JSON.parse(customer.notificationPreferences) as Preferences;
    const line = t.lineId ? lines.get(t.lineId) : undefined;
    const text = composeMessage(t.template, { ...accountParams(account), ...t.params });
    const msisdn = lineNumber(t.lineId) ?? (customer.phone ? null : firstLine.get(account.id)?.msisdn ?? null);
    for (const route of routeMessage(t, prefs, { customerId: customer.id, email: customer.email ?? null, phone: customer.phone ?? null, msisdn })) {
      rows.push({
        id: deterministicId('message', t.eventId, route.channel),
        customerId: customer.id,
        billingAccountId: account.id,
        lineId: line?.id ?? null,
        channel: route.channel,
        receiver: route.receiver,
        template: t.template,
        subject: text.subject,
        content: text.content,
        sourceEventType: t.eventType,
        sourceEventId: t.eventId,
        state: 'PENDING',
        attempts: 0,
        lastError: null,
        nextAttemptAt: now,
        createdAt: now,
        sentAt: null,
      });
    }
  }
  if (rows.length) await em.createQueryBuilder(CommunicationMessage)  .insert(rows).onConflict('id').ignore().execute();
  return { stored: rows.length, unknownAccounts };
}

/**
 * Sends what is due. A message is claimed by moving its next attempt a minute ahead (works on
 * PostgreSQL and SQLite alike, and a second instance skips it); a failure is retried with
 * back-off until the last attempt marks it FAILED. Delivery is at least once: webhook receivers
 * get a stable message id to drop repeats.
 */
export async function deliverDueNotifications(em: Em, sender: NotificationSender, now: Date, logger: Logger, limit = 50): Promise<number> {
  const due = await em.find(CommunicationMessage, { state: 'PENDING', nextAttemptAt: { $lte: now } }, { limit, orderBy: { nextAttemptAt: 'asc', id: 'asc' } });
  let sent = 0;
  for (const m of due) {
    const claimed = await em.nativeUpdate(CommunicationMessage, { id: m.id, state: 'PENDING', nextAttemptAt: m.nextAttemptAt }, { nextAttemptAt: new Date(now.getTime() + 60_000) });
    if (!claimed) continue;
    const attempts = m.attempts + 1;
    try {
      await sender.send({ ...m, channel: m.channel as never, lineId: m.lineId ?? null });
      await em.nativeUpdate(CommunicationMessage, { id: m.id }, { state: 'SENT', attempts, sentAt: now, lastError: null });
      sent++;
    } catch (error) {
      const delay = retryDelaySeconds(attempts);
      await em.nativeUpdate(CommunicationMessage, { id: m.id }, { state: delay === null ? 'FAILED' : 'PENDING', attempts, lastError: (error as Error).message, nextAttemptAt: new Date(now.getTime() + (delay ?? 0) * 1000) });
      logger.warn({ messageId: m.id, channel: m.channel, attempts, err: error }, delay === null ? 'notification failed for good' : 'notification failed; will retry');
    }
  }
  return sent;
}
