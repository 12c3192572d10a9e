import { AckPolicy, type JsMsg } from '@nats-io/jetstream';
import { BILLING_STREAM, DomainError, EVENTS, RPC, WORK_SUBJECTS, chargeRequestsOf, deterministicId, inChargeMessages, parseCloudEvent } from '@ledgerline/contracts';
import type { AddOnEndedData, BillingAccountChangedData, BillingAccountClosedData, ChargeRequest, CloudEvent, ChargeResult, OneOffChargeData, SubscriptionData, WalletCommitRequest, WalletReleaseRequest, WalletReserveReply, WalletReserveRequest, WalletSessionReply } from '@ledgerline/contracts';
import { deliverFrom, internalErrorAnswer, messageBatches, retryTransientFailures, type MessageBatches, type ServiceRuntime } from '@ledgerline/platform';
import type { Db } from '../persistence/sql';
import { ChargeLanes } from '../application/apply-charges';
import { openWallet, setCreditLimit } from '../application/wallets';
import { closeMany, reserveMany, type CloseRequest } from '../application/reservations';
import { GroupCommit } from '../application/group-commit';
import { grantFromSubscription } from '../application/grant-from-subscription';
import { followSubscriptionChange } from '../application/subscription-terms';
import { applyOneOffChargeOnce } from '../application/one-off-charges';
import { isLateChargeRefusal } from '../application/closed-wallet-moves';
import { revokeEndedAddOn } from '../application/add-on-ended';
import { closeAccountWallets } from '../application/close-account-wallets';
import type { CatalogClient } from '../adapters/catalog-client';
import { startAutoTopup, type AutoTopupRequestedData } from '../application/auto-topup-recharge'; // wallets-features
import { depsOf } from '../deps'; // wallets-features
import { createWalletsMetrics, type ChargeKeyRetryPath } from '../application/metrics';

export interface ConsumerOptions {
  /** Durable name suffix, so test services in their own schemas do not share a consumer. */
  durableSuffix: string;
  deliverNew: boolean;
  batchSize: number;
  /** Prepended to the online charging subjects (tests and benchmarks sharing a NATS server with other wallets services). */
  rpcPrefix?: string;
  /** Charge transactions side by side (see applyChargesInLanes). */
  chargeLanes?: number;
  /** Group commit of online charging requests: wait (ms), largest batch, batches in flight. */
  rpcWaitMs?: number;
  rpcMaxBatch?: number;
  rpcInFlight?: number;
  /**
   * Several wallets deployments share this NATS (test runs side by side, or ledgers sharded by
   * account): apply only charges for accounts this one holds and leave the others to theirs, instead
   * of answering them USER_UNKNOWN (a charge's result has one message id: the first answer wins).
   */
  ownAccountsOnly?: boolean;
  /** Messages per batch at most (default batchSize). */
  fetchMessages?: number;
}

/**
 * A batch's ChargeResults, a few messages of up to CHARGES_PER_MESSAGE results (a JSON array):
 * one JetStream publish per chunk instead of one per charge. The message id is made from the
 * chunk's charge ids, so the same batch answered again is dropped by JetStream; a batch that
 * comes back composed otherwise is published again, and usage and invoicing apply each
 * chargeId once. A refusal (REJECTED: its chargeId taken by another charge) counts with what it
 * refused: alone in a chunk it would otherwise carry the id of the chargeId's own answer, sent
 * alone before, and be dropped as its repeat.
 */
export async function publishChargeResults(js: ServiceRuntime['messaging']['js'], results: ChargeResult[]): Promise<void> {
  const idOf = (r: ChargeResult) => (r.outcome === 'REJECTED' ? `${r.chargeId}\u0000${JSON.stringify(r)}` : r.chargeId);
  await Promise.all(inChargeMessages(results).map((chunk) => js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(chunk), { msgID: deterministicId('event', 'wallets', 'chargesApplied', ...chunk.map(idOf)) })));
}

/** The charges whose billing account has a wallet here. */
async function ofKnownAccounts(db: Db, charges: ChargeRequest[]): Promise<ChargeRequest[]> {
  const accounts = [...new Set(charges.map((c) => c?.billingAccountId).filter((a): a is string => typeof a === 'string'))];
  if (accounts.length === 0) return [];
  const known = new Set((await db.query<{ billing_account_id: string }>('select distinct billing_account_id from wallet where billing_account_id = any($1::text[])', [accounts])).map((r) => r.billing_account_id));
  return charges.filter((c) => known.has(c?.billingAccountId));
}

/**
 * What a handler may return: work to finish before its batch is acknowledged (publishing the
 * batch's results). It runs while the next batch is fetched and handled; batches are still
 * acknowledged in order, and one whose finish fails is redelivered.
 */
type Finish = () => Promise<void>;

/**
 * A durable pull consumer loop: take what has arrived (up to `fetchMessages`, see
 * `messageBatches`), hand the batch over, ack (or nak on failure). `readers` collects the reader so
 * that stopping can close it.
 */
async function pullLoop(runtime: ServiceRuntime, durable: string, filter: string, opts: ConsumerOptions, handle: (msgs: JsMsg[]) => Promise<void | Finish>, readers: MessageBatches[]): Promise<void> {
  const { jsm, js } = runtime.messaging;
  try {
    await jsm.consumers.info(BILLING_STREAM.name, durable);
  } catch {
    await jsm.consumers.add(BILLING_STREAM.name, {
      durable_name: durable,
      filter_subject: filter,
      ack_policy: AckPolicy.Explicit,
      ...deliverFrom(Boolean(opts.deliverNew)),
      max_ack_pending: 20_000,
      ack_wait: 30_000_000_000,
      ...(opts.deliverNew ? { inactive_threshold: 600_000_000_000 } : {}),
    });
  }
  const batches = messageBatches(await js.consumers.get(BILLING_STREAM.name, durable), { max: opts.fetchMessages ?? opts.batchSize, logger: runtime.logger, name: durable });
  readers.push(batches);
  let finishing: Promise<void> = Promise.resolve();
  for (let msgs = await batches.next(); msgs; msgs = await batches.next()) {
    const batch = msgs;
    const failed = (error: unknown) => {
      runtime.logger.error({ err: error, durable, count: batch.length }, 'batch failed; will be redelivered');
      for (const m of batch) m.nak(1000);
    };
    try {
      // A deadlock victim runs again here (handlers are idempotent, as for a redelivery) before the batch is nak'd.
      const finish = await retryTransientFailures({ service: 'wallets', operation: `consumer:${durable}`, logger: runtime.logger }, () => handle(batch));
      await finishing;
      finishing = (async () => {
        try {
          if (finish) await finish();
          for (const m of batch) m.ack();
          runtime.relay.nudge();
        } catch (error) {
          failed(error);
        }
      })();
    } catch (error) {
      failed(error);
    }
  }
  await finishing;
}

export function startConsumers(runtime: ServiceRuntime, db: Db, catalog: CatalogClient | null, opts: ConsumerOptions): () => Promise<void> {
  const loops: Promise<void>[] = [];
  const readers: MessageBatches[] = [];
  const durable = (name: string) => `wallets-${name}${opts.durableSuffix}`;
  const metrics = createWalletsMetrics(runtime.metrics);
  // A charge transaction run again because a twin took its chargeId first (retryingChargeKeyTaken); the counter is the deps' (GraphQL counts there too).
  const keyRetried = (path: ChargeKeyRetryPath) => () => depsOf(runtime).chargeKeyRetries.inc({ path });

  // Charges from usage: a message carries one ChargeRequest or a batch of them (usage sends up to
  // 250 a message), so a batch is at most batchSize / 10 messages; the charges are applied in
  // lanes of `batchSize`, one transaction each, idempotent by chargeId, and their results are
  // published before the messages are acknowledged. At most two batches are in hand: the one
  // being finished (written, published, acknowledged) and the next, queued on the lanes.
  const chargeLanes = new ChargeLanes(db, { results: 'caller', lanes: opts.chargeLanes ?? 2, batchSize: opts.batchSize, onKeyRetry: keyRetried('charges') });
  loops.push(
    pullLoop(runtime, durable('charges'), WORK_SUBJECTS.chargeRequested, { ...opts, fetchMessages: Math.max(16, Math.ceil(opts.batchSize / 10)) }, async (msgs) => {
      const charges: ChargeRequest[] = [];
      for (const m of msgs) {
        let parsed: ReturnType<typeof chargeRequestsOf>;
        try {
          parsed = chargeRequestsOf(m.json());
        } catch {
          runtime.logger.error({ seq: m.seq }, 'charge message is not JSON; dropped');
          metrics.chargeMessagesDropped.inc({ reason: 'NOT_JSON' });
          continue;
        }
        if (parsed.invalid > 0) {
          runtime.logger.error({ seq: m.seq, invalid: parsed.invalid }, 'entries of a charge message without a chargeId; dropped');
          metrics.chargeMessagesDropped.inc({ reason: 'NO_CHARGE_ID' }, parsed.invalid);
        }
        charges.push(...parsed.requests);
      }
      const mine = opts.ownAccountsOnly ? await ofKnownAccounts(db, charges) : charges;
      const timer = metrics.chargeBatchSeconds.startTimer();
      // Handed to the lanes, not awaited here: the loop fetches the next batch while this one is
      // written, and the lanes take it as each finishes its share of this one (ChargeLanes).
      // A batch of many-charge messages takes several transactions: keep its messages ours meanwhile.
      const applying = chargeLanes.apply(mine, runtime.clock.now(), () => msgs.forEach((m) => m.working()));
      applying.catch(() => undefined); // awaited by the finish below, after the previous batch's: not unhandled meanwhile
      return async () => {
        const results = await applying;
        if (mine.length > 0) timer();
        // Counted per outcome, then added: a labelled inc per charge showed in profiles.
        const byOutcome = new Map<string, number>();
        for (const r of results) byOutcome.set(r.outcome, (byOutcome.get(r.outcome) ?? 0) + 1);
        for (const [outcome, n] of byOutcome) metrics.charges.inc({ outcome }, n);
        // Published after the commit, acknowledged after the publish (see ApplyChargesOptions).
        await publishChargeResults(runtime.messaging.js, results);
      };
    }, readers),
  );

  // Subscribers' events: open the wallet of a new account; grant the allowances of a new subscription; follow its changes;
  // take a prepaid account's one-off fees; revoke an ended add-on's buckets; close the wallets of a closed account.
  async function followSubscribers(subject: string, event: CloudEvent): Promise<void> {
    const now = runtime.clock.now();
    if (subject === EVENTS.billingAccountCreated.subject) {
      const d = event.data as { billingAccountId: string; customerId?: string; paymentMode: 'PREPAID' | 'POSTPAID'; currency: string; creditLimit?: string | null; timezone?: string | null };
      await db.tx((sql) => openWallet(sql, { billingAccountId: d.billingAccountId, currency: d.currency, paymentMode: d.paymentMode, creditLimit: d.creditLimit ?? null, customerId: d.customerId ?? null, timezone: d.timezone ?? null, now })); // wallets-features: owner
    } else if (subject === EVENTS.subscriptionCreated.subject && catalog) {
      const d = event.data as SubscriptionData;
      const terms = await catalog.planTerms(d.planVersionId);
      if (terms) await db.tx((sql) => grantFromSubscription(sql, d, terms, now));
    } else if (subject === EVENTS.subscriptionChanged.subject && catalog) {
      // Status and end for the renewal job; an end also ends its own buckets (and refunds unused prorated days).
      const d = event.data as SubscriptionData;
      const terms = await catalog.planTerms(d.planVersionId);
      await db.tx((sql) => followSubscriptionChange(sql, d, terms, now));
    } else if (subject === EVENTS.billingAccountChanged.subject) {
      // A later credit limit (from subscribers) is what charging allows from now on.
      const d = event.data as BillingAccountChangedData;
      if (d.changed?.includes('creditLimit')) await db.tx((sql) => setCreditLimit(sql, d.billingAccountId, d.currency, d.creditLimit, now));
    } else if (subject === EVENTS.oneOffChargeCreated.subject) {
      // A prepaid account's one-off fee comes out of its balance (postpaid: invoicing bills it).
      const d = event.data as OneOffChargeData;
      // Run again when a twin took its key first (applyOneOffChargeOnce): answered ALREADY, the batch not failed.
      const outcome = await applyOneOffChargeOnce(db, d, now, keyRetried('oneOffCharge'));
      if (outcome === 'INVALID') runtime.logger.error({ chargeId: d?.chargeId }, 'one-off charge event without a usable account, amount or currency; skipped');
      // A late charge a closed wallet refused (its decision is on the ledger): staff must collect it another way.
      if (isLateChargeRefusal(outcome)) {
        runtime.logger.error({ chargeId: d.chargeId, billingAccountId: d.billingAccountId, amount: d.amount, currency: d.currency, reason: outcome }, 'one-off charge refused by a closed wallet; not taken');
        metrics.subscriberEventsDropped.inc({ subject, reason: outcome });
      }
    } else if (subject === EVENTS.addOnEnded.subject) {
      // An add-on ended early: its buckets are revoked (its refund comes as a CREDIT one-off).
      await db.tx((sql) => revokeEndedAddOn(sql, event.data as AddOnEndedData, now));
    } else if (subject === EVENTS.billingAccountClosed.subject) {
      // The account's wallets close: nothing more in or out but late usage from before closedAt,
      // until finalAt (closedAt + the grace); wallet.closed tells finance the balance left and
      // finalAt, wallet.settled (the jobs) the final one (a redelivery changes and emits nothing).
      await db.tx((sql) => closeAccountWallets(sql, event.data as BillingAccountClosedData, now, depsOf(runtime).closedLateUsageGraceHours));
    }
  }
  // An event refused with a coded error (or not a CloudEvent at all) is refused the same way every
  // time: it is logged, counted and acknowledged with its batch, so it never holds back the other
  // events. Anything else (the database or the catalog unreachable) fails the batch, which comes back.
  const dropSubscriberEvent = (m: JsMsg, reason: string, error: unknown) => {
    runtime.logger.error({ err: error, subject: m.subject, seq: m.seq, reason }, "subscribers' event refused; acknowledged without effect");
    metrics.subscriberEventsDropped.inc({ subject: m.subject, reason });
  };
  loops.push(
    pullLoop(runtime, durable('subscribers'), 'billing.subscribers.>', { ...opts, batchSize: 50 }, async (msgs) => {
      for (const m of msgs) {
        let event: CloudEvent;
        try {
          event = parseCloudEvent(m.data);
        } catch (error) {
          dropSubscriberEvent(m, 'NOT_A_CLOUD_EVENT', error);
          continue;
        }
        try {
          await followSubscribers(m.subject, event);
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          dropSubscriberEvent(m, error.code, error);
        }
      }
    }, readers),
  );

  // wallets-features: an auto top-up request starts a card recharge (key = the request id, so a redelivery starts nothing new).
  loops.push(
    pullLoop(runtime, durable('autotopup'), EVENTS.autoTopupRequested.subject, { ...opts, batchSize: 20 }, async (msgs) => {
      for (const m of msgs) await startAutoTopup(db, depsOf(runtime).rechargeStarter, parseCloudEvent(m.data).data as AutoTopupRequestedData, runtime.clock.now(), () => runtime.clock.now());
    }, readers),
  );

  // Online charging over core NATS request/reply (queue group: any replica answers), with group
  // commit: the requests of the last ~1 ms are applied together in one transaction, one reply each.
  const group = { maxWaitMs: opts.rpcWaitMs ?? 1, maxBatch: opts.rpcMaxBatch ?? 200, maxInFlight: opts.rpcInFlight ?? 3 };
  const rpc = (subject: string) => `${opts.rpcPrefix ?? ''}${subject}`;
  // usage passes a reply's error on to the network element or partner: what failed stays in the log.
  const internal = (error: unknown) => internalErrorAnswer(runtime.logger, error, 'online charging request failed');
  const nudge = () => runtime.relay.nudge();
  const reserves = new GroupCommit<WalletReserveRequest, WalletReserveReply>(db, (sql, reqs) => reserveMany(sql, reqs, runtime.clock.now()), (_req, error) => ({ resultCode: 'RATING_FAILED', error: internal(error) }), group, nudge, 'reserve');
  const closes = new GroupCommit<CloseRequest, WalletSessionReply>(db, (sql, reqs) => closeMany(sql, reqs, runtime.clock.now()), (req, error) => ({ resultCode: 'RATING_FAILED', reservationId: req.reservationId, error: internal(error) }), group, nudge, 'close');
  const nc = runtime.messaging.nc;
  const subs = [
    nc.subscribe(rpc(RPC.walletReserve), { queue: 'wallets', callback: (err, msg) => void (err || answer('reserve', msg, (req: WalletReserveRequest) => reserves.submit(req))) }),
    nc.subscribe(rpc(RPC.walletCommit), { queue: 'wallets', callback: (err, msg) => void (err || answer('commit', msg, (req: WalletCommitRequest) => closes.submit({ reservationId: req?.reservationId, usedUnits: req?.usedUnits, closing: 'COMMITTED', ...(req?.pricePerUnit != null ? { pricePerUnit: req.pricePerUnit } : {}) }))) }),
    nc.subscribe(rpc(RPC.walletRelease), { queue: 'wallets', callback: (err, msg) => void (err || answer('release', msg, (req: WalletReleaseRequest) => closes.submit({ reservationId: req?.reservationId, usedUnits: '0', closing: 'RELEASED' }))) }),
  ];
  async function answer<T>(operation: string, msg: { json<X>(): X; respond(data: string): boolean }, work: (req: T) => Promise<{ resultCode?: string }>): Promise<void> {
    const timer = metrics.onlineRequestSeconds.startTimer({ operation });
    let reply: { resultCode?: string };
    try {
      reply = await work(msg.json<T>());
    } catch (error) {
      reply = { resultCode: 'RATING_FAILED', error: internal(error) } as { resultCode: string };
    }
    msg.respond(JSON.stringify(reply));
    timer();
    metrics.onlineRequests.inc({ operation, result_code: reply?.resultCode ?? 'NONE' });
  }

  return async () => {
    await Promise.all(readers.map((r) => r.close()));
    for (const s of subs) s.unsubscribe();
    await Promise.race([Promise.all([reserves.drain(), closes.drain()]), new Promise((r) => setTimeout(r, 2500))]);
    await Promise.race([Promise.allSettled(loops), new Promise((r) => setTimeout(r, 2500))]);
  };
}
