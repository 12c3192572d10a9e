import { afterAll, beforeAll } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { createCloudEvent, dec, EVENTS } from '@ledgerline/contracts';
import { TEST_DATABASE_URL, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { startChargingSessionResponder } from '../src/events/charging-session-responder';
import { closeStaleSessions, type ChargingSessionReply, type ChargingSessionRequest } from '../src/application/charging-session';
import { applyAccountOwnerEvent } from '../src/events/subscriber-events-consumer';
import { askChargingSession, filePlanSource, setLine, sqlOf, startWalletsProcess, statementHook, waitFor, type WalletsProcess } from './support';

const IDLE_MS = 15 * 60_000;

/** Online charging against the real wallets service; its fields are set once the file's `beforeAll` has run. */
export interface OnlineCharging {
  nc: NatsConnection;
  svc: TestService;
  /** Usage's schema. */
  db: pg.Client;
  wallets: WalletsProcess;
  hook: ReturnType<typeof statementHook>;
  /**
   * A POSTPAID line on plv_postpaid, known to usage, with its wallet and 20 GB data bucket in wallets. With `partnerId`
   * (a partner's id, or null: the operator's own) its account is opened as subscribers announces it (billingaccount.created
   * applied as the `owners` consumer applies it), assigned to that partner.
   */
  postpaidLine(lineId: string, account: string, msisdn: string, partnerId?: string | null): Promise<void>;
  /** Subscribers' billingaccount.created for `account` (customer `cus_<account>`), assigned to `partnerId` (null: no partner), applied as the `owners` consumer does. */
  openAccount(account: string, partnerId: string | null): Promise<void>;
  /** One request to ocs.usage.session over NATS, as a network element sends it. */
  ask(sessionId: string, req: Omit<ChargingSessionRequest, 'sessionId'>): Promise<ChargingSessionReply>;
  /** One run of the idle sweeper (sessions silent for 15 minutes): how many it closed. */
  sweep(): Promise<number>;
  /** The session as if its last change was an hour ago (silent since its last claim or reply). */
  silence(sessionId: string): Promise<unknown>;
  /** Wallets' reservations of the session, by request id: status and units used. */
  reservations(sessionId: string): Promise<Record<string, string>>;
  /** The session's usage records past its RESERVE: event id → units. */
  records(sessionId: string): Promise<Record<string, string>>;
}

/**
 * For the file's tests: a private nats-server, wallets in a child process (a schema of its own), and
 * the usage service with the charging-session responder only (plans: the catalog's files plus
 * `extraPlans` by version id). No consumers, so no sweeper of the service's own: only the test's
 * `sweep` closes sessions.
 */
export function onlineCharging(extraPlans: Record<string, unknown> = {}): OnlineCharging {
  let nats: Awaited<ReturnType<typeof startPrivateNats>> | undefined;
  let walletsDb: pg.Client | undefined;
  let stopResponder: (() => Promise<void>) | undefined;
  const oc = {
    async postpaidLine(lineId, account, msisdn, partnerId) {
      await oc.wallets.postpaidWallet(account, lineId);
      await setLine(oc.svc, { lineId, msisdn, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
      if (partnerId !== undefined) await oc.openAccount(account, partnerId);
    },
    async openAccount(account, partnerId) {
      const opened = createCloudEvent({
        source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: account, time: new Date('2026-01-01T00:00:00Z'), key: [account],
        data: { billingAccountId: account, customerId: `cus_${account}`, parentAccountId: null, partnerId, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false },
      });
      await applyAccountOwnerEvent(usageRuntimeOf(oc.svc.runtime).sql, EVENTS.billingAccountCreated.subject, JSON.stringify(opened), (subject, reason, details) => {
        throw new Error(`billingaccount.created refused: ${reason} ${JSON.stringify(details)}`);
      });
    },
    ask: (sessionId, req) => askChargingSession(oc.nc, sessionId, req),
    sweep: () => closeStaleSessions(usageRuntimeOf(oc.svc.runtime), oc.nc, new Date(), IDLE_MS),
    silence: (sessionId) => oc.db.query(`update charging_session set updated_at = updated_at - interval '1 hour' where id = $1`, [sessionId]),
    async reservations(sessionId) {
      const { rows } = await walletsDb!.query<{ request_key: string; status: string; used: string | null }>(
        `select request_key, status, used_units::text as used from "${oc.wallets.schema}".reservation where session_id = $1 order by request_key`, [sessionId]);
      return Object.fromEntries(rows.map((r) => [r.request_key, `${r.status} ${r.used === null ? '-' : dec(r.used).toFixed()}`]));
    },
    async records(sessionId) {
      const { rows } = await oc.db.query<{ event_id: string; quantity: string }>(`select event_id, quantity::text from usage_record where source = 'ocs' and event_id like $1 order by event_id`, [`${sessionId}#%`]);
      return Object.fromEntries(rows.map((r) => [r.event_id, dec(r.quantity).toFixed()]));
    },
  } as OnlineCharging;

  beforeAll(async () => {
    nats = await startPrivateNats();
    oc.wallets = await startWalletsProcess(nats.url);
    oc.nc = await waitFor(() => connect({ servers: nats!.url }).catch(() => undefined), 10_000, 'the private nats-server');
    oc.svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(extraPlans), consumers: [] }), { env: { NATS_URL: nats.url } });
    oc.hook = statementHook(oc.svc);
    stopResponder = await startChargingSessionResponder(oc.svc.runtime.messaging, usageRuntimeOf(oc.svc.runtime), oc.svc.runtime);
    oc.db = await sqlOf(oc.svc);
    walletsDb = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await walletsDb.connect();
  }, 120_000);

  afterAll(async () => {
    await stopResponder?.();
    await walletsDb?.end();
    await oc.db?.end();
    await oc.svc?.close();
    await oc.nc?.close();
    await oc.wallets?.stop();
    await nats?.stop();
  });

  return oc;
}
