import fs from 'node:fs';
import pg from 'pg';
import type { Caller } from '@ledgerline/contracts';
import { DEV_INTERNAL_SECRET, ManualClock, startServiceForTest, TEST_DATABASE_URL, type TestService } from '@ledgerline/platform';
import { catalogService } from '../../catalog/src/service';
import { createSubscribersService } from '../src/service';
import { GraphqlCatalogClient, offerFromDocument, type CatalogClient, type CatalogPlanVersion } from '../src/ports/catalog-client';
import { InlineOrderDispatcher } from '../src/ports/order-dispatcher';
import { SandboxProvisioning } from '../src/ports/provisioning';
import type { WalletsPort } from '../src/ports/wallets-client';

export const PLAN_FILES = ['family-share-50gb', 'postpaid-20gb', 'business-pool', 'prepaid-payg', 'prepaid-bundle-30d'];

export function planDocument(name: string): unknown {
  return JSON.parse(fs.readFileSync(new URL(`../../../catalog/plans/${name}.json`, import.meta.url), 'utf8'));
}

/**
 * The plan files as a catalog, in memory: the same interface the GraphQL client implements.
 * Used while the catalog service's import is being reworked (see STATUS.md); the catalog-client
 * test runs the real service.
 */
export class FileCatalog implements CatalogClient {
  readonly plans = new Map<string, CatalogPlanVersion>();
  constructor(names = PLAN_FILES) {
    for (const name of names) {
      const document = planDocument(name) as { code: string; paymentMode: 'PREPAID' | 'POSTPAID'; currency: string };
      this.plans.set(document.code, { planId: `pln_${name}`, code: document.code, planStatus: 'PUBLISHED', paymentMode: document.paymentMode, currency: document.currency, versionId: `plv_${name}_1`, version: 1, document });
    }
  }
  async currentPlanVersion(code: string) {
    return this.plans.get(code) ?? null;
  }
  /** Offers a test sells only with some plans (sellOnlyWith), by code. */
  private readonly restricted = new Map<string, string[]>();
  async offer(code: string) {
    const dir = new URL('../../../catalog/offers/', import.meta.url);
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.json'))) {
      const doc = JSON.parse(fs.readFileSync(new URL(f, dir), 'utf8'));
      if (doc.code !== code) continue;
      const offer = offerFromDocument(doc);
      const plans = this.restricted.get(code);
      return plans ? { ...offer, compatiblePlans: plans } : offer;
    }
    return null;
  }
  /** From now on the catalog sells `codes` only with `plans`; the answer undoes it. */
  sellOnlyWith(codes: string[], plans: string[]): () => void {
    for (const code of codes) this.restricted.set(code, plans);
    return () => {
      for (const code of codes) this.restricted.delete(code);
    };
  }
  async planVersionDocument(id: string) {
    return [...this.plans.values()].find((p) => p.versionId === id)?.document ?? null;
  }
}

export interface Harness {
  catalog: TestService | null;
  catalogClient: CatalogClient;
  subscribers: TestService;
  sandbox: SandboxProvisioning;
  clock: ManualClock;
  db: pg.Client;
  close(): Promise<void>;
  /** Row counts of every table of the subscribers schema (to prove a refusal changed nothing). */
  counts(): Promise<Record<string, number>>;
  rows<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** A GraphQL request to subscribers (as `caller`, staff by default) that must succeed: its data. */
  ok(query: string, variables: Record<string, unknown>, caller?: Caller): Promise<any>;
}

export async function startHarness(options: { now?: string; realCatalog?: boolean; wallets?: WalletsPort; numberQuarantineDays?: number } = {}): Promise<Harness> {
  const clock = new ManualClock(new Date(options.now ?? '2026-11-16T10:00:00Z'));
  let catalog: TestService | null = null;
  let catalogClient: CatalogClient = new FileCatalog();
  if (options.realCatalog) {
    catalog = await startServiceForTest(catalogService, { clock });
    const offersDir = new URL('../../../catalog/offers/', import.meta.url);
    for (const file of fs.readdirSync(offersDir).filter((f) => f.endsWith('.json'))) {
      const r = await catalog.request(`mutation($d: JSON!) { importOffer(input: { document: $d }) { __typename } }`, { d: JSON.parse(fs.readFileSync(new URL(file, offersDir), 'utf8')) });
      if (r.errors) throw new Error(`importOffer ${file}: ${r.errors[0]!.message}`);
    }
    for (const name of PLAN_FILES) {
      const r = await catalog.request(`mutation($d: JSON!) { importPlan(input: { document: $d }) { version { id } } }`, { d: planDocument(name) });
      if (r.errors) throw new Error(`importPlan ${name}: ${r.errors[0]!.message}`);
    }
    catalogClient = new GraphqlCatalogClient(catalog.url, DEV_INTERNAL_SECRET);
  }
  const sandbox = new SandboxProvisioning();
  const def = createSubscribersService({
    catalog: catalogClient,
    provisioning: sandbox,
    dispatcher: new InlineOrderDispatcher(sandbox, { attempts: 2, callTimeoutMs: 300, backoffMs: 10 }),
    sweepIntervalMs: 0,
    wallets: options.wallets ?? null,
    numberQuarantineDays: options.numberQuarantineDays,
  });
  const subscribers = await startServiceForTest(def, { clock, env: catalog ? { CATALOG_URL: catalog.url } : {} });
  const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
  await db.query(`set search_path to "${subscribers.schema}"`);
  const tables = ['customer', 'billing_account', 'line', 'subscription', 'product_order', 'one_off_charge', 'communication_message', 'outbox'];
  return {
    catalog,
    catalogClient,
    subscribers,
    sandbox,
    clock,
    db,
    async counts() {
      const out: Record<string, number> = {};
      for (const t of tables) out[t] = Number((await db.query(`select count(*)::int as n from ${t}`)).rows[0].n);
      return out;
    },
    async rows(sql, params) {
      return (await db.query(sql, params as unknown[])).rows;
    },
    async ok(query, variables, caller) {
      const r = await subscribers.request<any>(query, variables, caller);
      if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
      return r.data;
    },
    async close() {
      await db.end();
      await subscribers.close();
      await catalog?.close();
    },
  };
}

export const LINE_FIELDS = `id msisdn status planCode subscription { id status planCode sharedAllowances planVersion { id } startsAt endsAt }`;
export const ORDER_FIELDS = `id kind status failureCode failureMessage`;
