import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { BILLING_STREAM, DomainError, parseCloudEvent } from '@ledgerline/contracts';
import { runDurableConsumers, type Logger, type Messaging } from '@ledgerline/platform';
import { consumerFilters } from '../domain/query';
import { recordEvents, type StreamEvent } from '../application/record-events';
import { recordAccountPartners } from '../application/account-partners';
import type { StreamReader } from '../application/replay-events';
import type { HubDeps } from '../application/deps';

function toEvent(m: { subject: string; data: Uint8Array; string(): string }, logger: Logger): StreamEvent | null {
  try {
    const e = parseCloudEvent(m.data);
    return { subject: m.subject, eventId: e.id, type: e.type, payload: m.string(), time: e.time, data: e.data ?? null };
  } catch (err) {
    logger.error({ subject: m.subject, err, payload: m.string().slice(0, 500) }, 'event ignored by the hub: not a CloudEvent');
    return null;
  }
}

/**
 * The live route: durable consumers on the BILLING stream over the event subjects only (one per
 * filter of `consumerFilters`: NATS before 2.10 takes one filter per consumer), starting at "new"
 * (a hub gets the events published after it; a replay gives it older ones): new to the hub, so a
 * deploy that splits the filters starts after what the old durables acknowledged, and a durable over
 * subjects the hub did not read before (a new type's producer deployed first) starts where the hub
 * began reading (`startAt: 'unread'`, see runDurableConsumers). Each batch becomes
 * deliveries in one transaction, then is acknowledged; a batch redelivered inserts nothing new.
 * Beside them, one durable over billingaccount events keeps which partner each account is assigned to
 * (application/account-partners.ts), which decides which partner hubs may get an event.
 */
export async function startEventConsumers(deps: HubDeps, messaging: Messaging, o: { schema: string }): Promise<() => Promise<void>> {
  const suffix = o.schema === 'events_hub' ? undefined : o.schema;
  const throwaway = /^(t|e2e)_/.test(o.schema);
  // Which partner each billing account is assigned to, from the stream's start (a deploy adding it places every
  // account opened before), under a host name of its own: runDurableConsumers follows the acknowledgements of the
  // `events_hub_` durables when the webhook filters change, and this one's (far behind while it catches up) must
  // not count among them.
  const stopAccounts = await runDurableConsumers({ messaging, logger: deps.logger, name: 'account_partners_of_events_hub', suffix, throwaway }, [
    {
      name: 'billingaccounts',
      filter: 'billing.subscribers.billingaccount.*',
      startAt: 'all',
      batchSize: 200,
      handle: async (messages) => {
        await recordAccountPartners(
          deps,
          messages.map((m) => toEvent(m, deps.logger)).filter((e): e is StreamEvent => e !== null),
        );
      },
    },
  ]);
  const stopWebhooks = await runDurableConsumers(
    { messaging, logger: deps.logger, name: 'events_hub', suffix, throwaway },
    consumerFilters().map((filter) => ({
      name: `webhooks_${filter
        .replace(/^billing\./, '')
        .replace(/\.>$/, '')
        .replace(/\.\*$/, '')
        .replace(/\./g, '_')}`,
      filter,
      // New to the hub, and what was published on subjects its older version did not read (a new type's producer deployed first).
      startAt: 'unread' as const,
      batchSize: 200,
      handle: async (messages) => {
        await recordEvents(
          deps,
          messages.map((m) => toEvent(m, deps.logger)).filter((e): e is StreamEvent => e !== null),
        );
      },
    })),
  );
  return async () => {
    await stopWebhooks();
    await stopAccounts();
  };
}

/**
 * Replays read the stream with a throw-away pull consumer per subject, from the stored time `from`,
 * up to the messages stored when the reading of that subject began: events published meanwhile
 * reach the hub live, and reading them too let a busy subject run a replay past `maxEvents`. At
 * most `maxEvents` messages in all (they are held in memory): more is refused before reading them.
 */
export function streamReader(messaging: Messaging, logger: Logger, maxEvents = 100_000): StreamReader {
  return async (subjects, from) => {
    const found: { seq: number; event: StreamEvent }[] = [];
    for (const subject of subjects) {
      const name = `events_hub_replay_${randomBytes(8).toString('hex')}`;
      await messaging.jsm.consumers.add(BILLING_STREAM.name, {
        name,
        filter_subject: subject,
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: from.toISOString(),
        inactive_threshold: 60_000_000_000,
      });
      try {
        const consumer = await messaging.js.consumers.get(BILLING_STREAM.name, name);
        let pending = (await consumer.info()).num_pending;
        if (found.length + pending > maxEvents)
          throw new DomainError(
            'HUB_REPLAY_TOO_LARGE',
            `A replay from ${from.toISOString()} would read more than ${maxEvents} events; choose a later from (or narrow the hub's query)`,
            { field: 'from' },
            'BAD_USER_INPUT',
          );
        // `pending` only counts down: what was stored at the check, not what arrives during the read.
        while (pending > 0) {
          const batch = await consumer.fetch({ max_messages: Math.min(pending, 500), expires: 5_000 });
          let got = 0;
          for await (const m of batch) {
            got++;
            const event = toEvent(m, logger);
            if (event) found.push({ seq: m.seq, event });
            pending = Math.min(pending - 1, m.info.pending);
            if (pending === 0) break;
          }
          if (got === 0) break;
        }
      } finally {
        await messaging.jsm.consumers.delete(BILLING_STREAM.name, name).catch(() => undefined);
      }
    }
    return found.sort((a, b) => a.seq - b.seq).map((f) => f.event);
  };
}
