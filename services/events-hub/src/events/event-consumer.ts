import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { BILLING_STREAM, DomainError, parseCloudEvent } from '@ledgerline/contracts';
import { runDurableConsumers, type Logger, type Messaging } from '@ledgerline/platform';
import { consumerFilters } from '../domain/query';
import { audienceOfSubject } from '../domain/visibility';
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

/** How long a webhook batch waits for the billingaccount durable to catch up before it goes back to NATS (redelivered). */
const ACCOUNTS_WAIT_MS = 2_000;

/** The hub's billingaccount durable: runDurableConsumers's host and name (see startEventConsumers). */
const ACCOUNTS = { host: 'account_partners_of_events_hub', name: 'billingaccounts' } as const;

/**
 * Whether the hub has recorded every billingaccount event stored on the stream up to `seq` (the billingaccount
 * durable acknowledges a batch once its assignments are committed): its acknowledgement floor is past `seq`, or it
 * has nothing left to deliver or to be acknowledged.
 */
async function accountsReadThrough(messaging: Messaging, durable: string, seq: number): Promise<boolean> {
  const info = await messaging.jsm.consumers.info(BILLING_STREAM.name, durable);
  return info.ack_floor.stream_seq >= seq || (info.num_pending === 0 && info.num_ack_pending === 0);
}

/**
 * Waits up to ACCOUNTS_WAIT_MS for the billingaccount durable `durable` to have read the stream up to `seq`
 * (accountsReadThrough); whether it has.
 */
async function waitForAccountsRead(messaging: Messaging, durable: string, seq: number): Promise<boolean> {
  for (const deadline = Date.now() + ACCOUNTS_WAIT_MS; ; ) {
    if (await accountsReadThrough(messaging, durable, seq)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Before a webhook batch holding account events is decided for partner hubs: waits until the billingaccount durable
 * has read the stream up to the batch's last message, so an account's change of partner published before an event is
 * known when the event is decided (read first on its own durable, the event went to the partner the account had
 * left: "hub partner move race"). Not waited for when no partner has an active hub (the operator's hubs see every
 * account's events). Still behind after ACCOUNTS_WAIT_MS: counts it (ledgerline_events_hub_batches_waiting_for_accounts_total)
 * and throws, and the batch is redelivered.
 */
async function waitForAccountPlacements(deps: Pick<HubDeps, 'knex' | 'metrics'>, messaging: Messaging, durable: string, messages: { seq: number; subject: string }[]): Promise<void> {
  if (!messages.some((m) => audienceOfSubject(m.subject) === 'ACCOUNT')) return;
  if (!(await deps.knex('hub').where({ status: 'ACTIVE' }).whereNotNull('partner_id').first('id'))) return;
  const seq = Math.max(...messages.map((m) => m.seq));
  if (await waitForAccountsRead(messaging, durable, seq)) return;
  deps.metrics.batchWaitedForAccounts();
  throw new Error(`billing account assignments not read up to stream sequence ${seq} yet (durable ${durable} behind): the batch waits, so no partner gets an event of an account that left it`);
}

/** The name runDurableConsumers gives the hub's billingaccount durable in schema `schema` (startEventConsumers). */
export function accountsDurableName(schema: string): string {
  return `${ACCOUNTS.host}_${ACCOUNTS.name}${schema === 'events_hub' ? '' : `_${schema}`}`;
}

/**
 * For replays (application/replay-events.ts): whether the hub's billingaccount durable has read the stream up to a
 * sequence, waiting up to ACCOUNTS_WAIT_MS as the live webhook batches do.
 */
export function accountsReadUpTo(messaging: Messaging, schema: string): (seq: number) => Promise<boolean> {
  const durable = accountsDurableName(schema);
  return (seq) => waitForAccountsRead(messaging, durable, seq);
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
  const accounts = ACCOUNTS;
  // runDurableConsumers's name for it.
  const accountsDurable = accountsDurableName(o.schema);
  const stopAccounts = await runDurableConsumers({ messaging, logger: deps.logger, name: accounts.host, suffix, throwaway }, [
    {
      name: accounts.name,
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
        await waitForAccountPlacements(deps, messaging, accountsDurable, messages);
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
            if (event) found.push({ seq: m.seq, event: { ...event, seq: m.seq } });
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
