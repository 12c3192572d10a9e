import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import pg from 'pg';
import { Decimal, RPC, WORK_SUBJECTS, dec, type ChargeRequest } from '@ledgerline/contracts';
import type { NatsConnection } from '@nats-io/transport-node';
import { DEV_INTERNAL_SECRET, SYSTEM_CALLER, TEST_DATABASE_URL, callerHeaders, dropSchema, graphqlRequest, startServiceForTest, type ManualClock, type TestService } from '@ledgerline/platform';
import type { PlanSource } from '../src/application/plan-cache';
import type { ChargingSessionReply, ChargingSessionRequest } from '../src/application/charging-session';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';

const PLAN_FILES: Record<string, string> = {
  plv_prepaid: 'prepaid-bundle-30d.json',
  plv_postpaid: 'postpaid-20gb.json',
  plv_payg: 'prepaid-payg.json',
  plv_family: 'family-share-50gb.json',
};

export function planDocument(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(new URL(`../../../catalog/plans/${file}`, import.meta.url), 'utf8'));
}

/** Plan versions from catalog/plans/*.json, plus any documents a test adds (e.g. a corrected version). */
export function filePlanSource(extra: Record<string, unknown> = {}): PlanSource & { loads: number } {
  const source = {
    loads: 0,
    async load(id: string) {
      source.loads++;
      if (extra[id]) return { id, version: id, document: extra[id] };
      const file = PLAN_FILES[id];
      return file ? { id, version: '1', document: planDocument(file) } : null;
    },
  };
  return source;
}

/**
 * A copy of a catalog plan with one rule's event params edited: a corrected version for a re-rate
 * (`filePlanSource({ id: correctedPlan(...) })`).
 */
export function correctedPlan(file: string, rule: string, edit: (params: any) => void): Record<string, unknown> {
  const document = planDocument(file) as { rules: { name: string; event: { params: unknown } }[] };
  edit(document.rules.find((r) => r.name === rule)!.event.params);
  return document;
}

/** The usage service with no consumers (the test drives everything) on `clock`, and a client on its schema. */
export async function startUsage(clock: ManualClock, extraPlans: Record<string, unknown> = {}): Promise<{ svc: TestService; db: pg.Client; close(): Promise<void> }> {
  const svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(extraPlans), consumers: [] }), { clock });
  const db = await sqlOf(svc);
  return {
    svc,
    db,
    async close() {
      await db.end();
      await svc.close();
    },
  };
}

export async function sqlOf(svc: TestService): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path="${svc.schema}"` });
  await client.connect();
  return client;
}

export interface LineSetup {
  lineId: string;
  msisdn: string;
  account: string;
  status?: string;
  planVersionId: string;
  paymentMode: 'PREPAID' | 'POSTPAID';
  startsAt?: string;
  at?: string;
  subscriptionId?: string;
}

export const UPSERT_LINE_CONTEXT = `mutation($input: LineContextInput!) { upsertLineContext(input: $input) { lineId } }`;

export async function setLine(svc: TestService, l: LineSetup): Promise<void> {
  const res = await svc.request(
    UPSERT_LINE_CONTEXT,
    {
      input: {
        lineId: l.lineId,
        msisdn: l.msisdn,
        billingAccountId: l.account,
        status: l.status ?? 'ACTIVE',
        at: l.at ?? '2026-01-01T00:00:00Z',
        subscription: {
          subscriptionId: l.subscriptionId ?? `sub_${l.lineId}`,
          paymentMode: l.paymentMode,
          currency: 'EUR',
          planCode: l.planVersionId,
          planVersionId: l.planVersionId,
          startsAt: l.startsAt ?? '2026-01-01T00:00:00Z',
        },
      },
    },
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
}

export const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { usageRecordId previousPrice newPrice } } }`;

export const RECORD_USAGE = `mutation($input: RecordUsageInput!) {
  recordUsage(input: $input) { rated rejected duplicates results { index id status duplicate rejectionCode rejectionReason } }
}`;

/** Staff's grant of a partner's usage entitlement (ADMIN): `{ i: { partnerId, kind: 'ANY_LINE' } }` for a feed naming any customer. */
export const GRANT_ANY_LINE = `mutation($i: SetPartnerUsageEntitlementInput!) { setPartnerUsageEntitlement(input: $i) { entitlement { partnerId kind } } }`;

export async function waitFor<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Every ChargeRequest usage has decided to send: the records' own (the record is the outbox of
 * its charge) and the re-rating deltas written to the outbox, in the order they were stored.
 */
export async function storedChargeRequests(db: pg.Client, where = 'true', params: unknown[] = []): Promise<ChargeRequest[]> {
  const { rows } = await db.query(
    `select payload from (
       select charge as payload, received_at as at, occurred_at as occurred, 0 as seq, id from usage_record where charge is not null
       union all select payload, created_at as at, created_at as occurred, seq, id from outbox where subject = '${WORK_SUBJECTS.chargeRequested}'
     ) c where ${where} order by at, occurred, seq, id`,
    params,
  );
  return rows.map((r) => JSON.parse(r.payload));
}

/**
 * Wallets' answer to every charge of these lines still waiting for one, as wallets gives it when
 * the ledger agrees with usage on the allowance units (the record's estimate of them): the money is
 * computed here from the ChargeRequest as wallets' decideCharge / moneyFor takes it (the rated
 * amount; pro rata of the units not covered, half-even at 6 places), not copied from usage's money
 * estimate, so a same-catalog re-rate is checked against the ledger's figure. A record without a
 * stored ChargeRequest (a charging session's) is settled at its estimate.
 * Usage tests run without wallets; a re-rate needs the period's charges settled.
 */
export async function settleCharges(db: pg.Client, lineIds: string[], outcome: 'APPLIED' | 'DENIED' = 'APPLIED'): Promise<number> {
  // As applyChargeResults stores them: off the sweeper's work list, one charge_outcome row each.
  const { rows } = await db.query<{ id: string; spend: string | null; from_allowance: string | null; charge: string | ChargeRequest | null }>(
    `delete from pending_charge p using usage_record u where p.usage_record_id = u.id and u.line_id = any($1::text[]) returning u.id, u.spend::text, u.from_allowance::text, u.charge`,
    [lineIds],
  );
  for (const r of rows) {
    const covered = dec(r.from_allowance ?? '0');
    const request = typeof r.charge === 'string' ? (JSON.parse(r.charge) as ChargeRequest) : (r.charge ?? undefined);
    let money = dec(r.spend ?? '0');
    if (request?.amount != null) {
      const units = dec(request.units);
      const rest = Decimal.max(units.minus(covered), 0);
      money = rest.equals(units) ? dec(request.amount) : units.isZero() ? dec('0') : dec(request.amount).times(rest).div(units).toDecimalPlaces(6, Decimal.ROUND_HALF_EVEN);
    }
    await db.query(
      `insert into charge_outcome (usage_record_id, outcome, amount_charged, units_from_allowances) values ($1, $2, $3, $4)`,
      [r.id, outcome, outcome === 'DENIED' ? '0' : money.toFixed(), outcome === 'DENIED' ? '0' : covered.toFixed()],
    );
  }
  return rows.length;
}

/**
 * usage_record with each record's charge as readers see it (its ChargeResult's charge_outcome row, else
 * the record's own columns; see CHARGE_STATUS_OF in src/persistence/sql.ts), named usage_record: for
 * `select … from ${CHARGED_RECORDS} where …` in tests.
 */
export const CHARGED_RECORDS = `(select u.id, u.source, u.event_id, u.line_id, u.billing_account_id, u.quantity, u.status, coalesce(o.outcome, u.charge_status) as charge_status,
    coalesce(o.amount_charged, u.amount_charged) as amount_charged, coalesce(o.units_from_allowances, u.units_from_allowances) as units_from_allowances
  from usage_record u left join charge_outcome o on o.usage_record_id = u.id) as usage_record`;

/**
 * What wallets settled, as applyChargeResults stores it, for records a test settles by hand: every
 * charge of `where` (on usage_record `u`) still waiting is APPLIED with nothing in money and every
 * charged unit from allowances.
 */
export async function settleFromAllowances(db: pg.Client, where: string, params: unknown[]): Promise<void> {
  await db.query(
    `with settled as (delete from pending_charge p using usage_record u where p.usage_record_id = u.id and ${where} returning u.id, u.charged_units)
     insert into charge_outcome (usage_record_id, outcome, amount_charged, units_from_allowances) select id, 'APPLIED', 0, charged_units from settled`,
    params,
  );
}

/**
 * Holds the COMMIT of the next transaction the usage pipeline opens on `svc`'s pool: `holdNextCommit()`
 * returns `held` (resolves when that transaction reaches its COMMIT) and `release` (lets it commit).
 * For races with a write in flight; the pool's callback form (`pool.query`) is left alone.
 */
export function commitHolder(svc: TestService): { holdNextCommit: () => { held: Promise<void>; release: () => void } } {
  let hold: { reached: () => void; release: Promise<void> } | undefined;
  const pool = usageRuntimeOf(svc.runtime).sql as unknown as { connect: (cb?: unknown) => Promise<any> };
  const connect = pool.connect.bind(pool);
  pool.connect = (cb?: unknown) => {
    if (typeof cb === 'function') return connect(cb);
    return connect().then((client: any) => {
      const h = hold;
      if (!h) return client;
      hold = undefined;
      const query = client.query;
      client.query = async (...args: unknown[]) => {
        if (args[0] === 'commit') {
          h.reached();
          await h.release;
        }
        return query.apply(client, args);
      };
      const release = client.release;
      client.release = (...args: unknown[]) => {
        delete client.query;
        delete client.release;
        return release.apply(client, args);
      };
      return client;
    });
  };
  return {
    holdNextCommit() {
      let reached!: () => void;
      const held = new Promise<void>((r) => (reached = r));
      let release!: () => void;
      hold = { reached, release: new Promise<void>((r) => (release = r)) };
      return { held, release };
    },
  };
}

/** The real wallets service in a child process (a schema of its own), as the benchmark runs it. */
export interface WalletsProcess {
  schema: string;
  /** Its GraphQL API as SYSTEM; throws on errors. */
  gql<T = any>(query: string, variables: Record<string, unknown>): Promise<T>;
  /** A POSTPAID account in wallets (credit limit 150) with a 20 GB data bucket for the line: its wallet id. */
  postpaidWallet(account: string, lineId: string): Promise<string>;
  /** What a postpaid wallet's account owes, unbilled (wallets' decimal string). */
  unbilledOf(walletId: string): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startWalletsProcess(natsUrl: string): Promise<WalletsProcess> {
  const schema = `t_${randomBytes(4).toString('hex')}_wallets`;
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('../../wallets/src/main.ts', import.meta.url).pathname], {
    env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, NATS_URL: natsUrl, WALLETS_DB_SCHEMA: schema, WALLETS_PORT: String(port), WALLETS_TEMPORAL: 'off', WALLETS_JOBS: 'off', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}/graphql`;
  await waitFor(() => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false), 90_000, 'the wallets service');
  const gql = async <T = any>(query: string, variables: Record<string, unknown>): Promise<T> => {
    const res = await graphqlRequest<T>(url, query, variables, { headers: callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET) });
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    return res.data!;
  };
  return {
    schema,
    gql,
    async postpaidWallet(account, lineId) {
      const opened = await gql<{ openWallet: { wallet: { id: string } } }>(`mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId: account, currency: 'EUR', paymentMode: 'POSTPAID', creditLimit: '150' } });
      await gql(`mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`, {
        i: { billingAccountId: account, lineId, allowanceId: 'data', unit: 'MB', quantity: '20480', validFrom: '2020-01-01T00:00:00Z', validTo: '2100-01-01T00:00:00Z', grantKey: `${account}-data` },
      });
      return opened.openWallet.wallet.id;
    },
    async unbilledOf(walletId) {
      return (await gql<{ wallet: { unbilled: { amount: string } } }>(`query($id: ID!) { wallet(id: $id) { unbilled { amount } } }`, { id: walletId })).wallet.unbilled.amount;
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await dropSchema(schema).catch(() => undefined);
    },
  };
}

/** One request to ocs.usage.session over NATS, as a network element sends it. */
export async function askChargingSession(nc: NatsConnection, sessionId: string, req: Omit<ChargingSessionRequest, 'sessionId'>): Promise<ChargingSessionReply> {
  const reply = await nc.request(RPC.chargingSession, JSON.stringify({ sessionId, ...req }), { timeout: 10_000 });
  return reply.json<ChargingSessionReply>();
}

/**
 * A crash window or a race at one statement of usage's pool: `once(prefix, hook)` runs `hook` just
 * before the next statement (`pool.query`, promise form) whose text starts with `prefix`, once. A
 * hook that throws is a crash of the request at that point; one that runs requests is a race there.
 */
export function statementHook(svc: TestService): { once: (prefix: string, hook: () => Promise<void>) => void } {
  const pool = usageRuntimeOf(svc.runtime).sql as unknown as { query: (...args: unknown[]) => Promise<unknown> };
  const query = pool.query.bind(pool);
  let armed: { prefix: string; hook: () => Promise<void> } | undefined;
  pool.query = async (...args: unknown[]) => {
    const next = armed;
    if (next && typeof args[0] === 'string' && args[0].trimStart().startsWith(next.prefix)) {
      armed = undefined;
      await next.hook();
    }
    return query(...args);
  };
  return { once: (prefix, hook) => void (armed = { prefix, hook }) };
}
