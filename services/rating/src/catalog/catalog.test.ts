import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, mkdir, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from '../domain/decimal';
import { FACT_NAMES } from '../domain/facts';
import type { PlanDocument } from '../domain/plan-types';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import { compilePlan, type CompiledPlan } from '../engine/compile-plan';
import { diffPlans } from './diff-plans';
import { loadCatalogDir, type LoadedCatalog } from './load-catalog';
import { comparePlans, simulate } from './simulate';

const CATALOG_DIR = fileURLToPath(new URL('../../../../catalog', import.meta.url));
const usage = JSON.parse(readFileSync(join(CATALOG_DIR, 'samples/usage.json'), 'utf8')) as { subscriber: SubscriberContext; events: UsageEvent[] };

describe('the shipped catalog', () => {
  let catalog: LoadedCatalog;
  let compiled: CompiledPlan[];
  beforeAll(async () => {
    catalog = await loadCatalogDir(CATALOG_DIR);
    compiled = catalog.plans.map(({ document }) => compilePlan(document, { version: '1', knownOffers: catalog.offers.map((o) => o.document) }));
  });

  it('is valid: every file in catalog/plans and catalog/offers', () => {
    expect(catalog.problems).toEqual([]);
    expect(catalog.plans.map((p) => p.file).sort()).toEqual(readdirSync(join(CATALOG_DIR, 'plans')).map((f) => `plans/${f}`).sort());
    expect(catalog.offers).toHaveLength(readdirSync(join(CATALOG_DIR, 'offers')).length);
  });

  it('covers what the issue asks for: a USD plan, premium denial, an 80% offer, 50/80/100% notices, committed spend, a shared plan of 5 lines', () => {
    const docs = catalog.plans.map((p) => p.document);
    expect(docs.some((d) => d.currency === 'USD')).toBe(true);
    expect(docs.some((d) => d.rules.some((r) => r.event.type === 'deny' && r.event.params.reason === 'PREMIUM_BARRED'))).toBe(true);
    expect(docs.some((d) => d.rules.some((r) => r.event.type === 'offer'))).toBe(true);
    const thresholds = new Set(docs.flatMap((d) => d.rules.filter((r) => r.event.type === 'notify').map((r) => (r.event.params as { threshold: string }).threshold)));
    expect([...thresholds]).toEqual(expect.arrayContaining(['0.5', '0.8', '1']));
    expect(docs.some((d) => d.committedSpend && d.paymentMode === 'PREPAID')).toBe(true);
    expect(docs.some((d) => d.maxLines === 5 && d.allowances.some((a) => a.shared))).toBe(true);
  });

  it('README documents every fact of the facts definition', () => {
    const readme = readFileSync(join(CATALOG_DIR, 'README.md'), 'utf8');
    for (const fact of FACT_NAMES) expect(readme, `fact ${fact}`).toContain(`\`${fact}\``);
    for (const type of ['rate', 'discount', 'surcharge', 'deny', 'notify', 'offer']) expect(readme).toContain(`\`${type}\``);
  });

  it('simulates the sample month: charges add up, allowances are consumed first, premium is denied on prepaid', async () => {
    const bundle = compiled.find((c) => c.code === 'PREPAID_BUNDLE_30D')!;
    const report = await simulate(bundle, usage.events, { ...usage.subscriber, accountType: 'PREPAID' });
    const sum = report.charges.reduce((total, charge) => total.plus(charge.charge), new Decimal(0));
    expect(report.usageCharge).toBe(sum.toString());
    // A 30-day fee over the 31 days of March: 1-31 March, and 1 day of 30 of the period from 31 March.
    expect(report.recurringFee).toBe('15.50');
    // And its starter pack (an ACTIVATION fee): the simulated subscription starts with the span.
    expect(report.oneOffFee).toBe('4.95');
    expect(report.total).toBe(sum.plus('15.50').plus('4.95').toString());
    expect(report.charges.find((c) => c.result.denyReason === 'PREMIUM_BARRED')).toBeDefined();
    const firstNationalCall = report.charges.find((c) => c.result.allowanceId === 'voice')!;
    expect(firstNationalCall.charge).toBe('0');
    expect(firstNationalCall.coveredUnits).toBe(firstNationalCall.result.chargedUnits);
  });

  it('compares plans on the sample month, cheapest first within a currency', async () => {
    const costs = await comparePlans(usage.events, compiled);
    expect(costs).toHaveLength(compiled.length);
    const eur = costs.filter((c) => c.currency === 'EUR');
    for (let i = 1; i < eur.length; i++) expect(new Decimal(eur[i - 1].total).lte(eur[i].total)).toBe(true);
    expect(costs.at(-1)!.currency).toBe('USD');
  });

  it('diffs two plan versions as a JSON Patch', () => {
    const a = catalog.plans.find((p) => p.document.code === 'POSTPAID_20GB')!.document;
    const b: PlanDocument = structuredClone(a);
    b.recurringFee!.amount = '27.99';
    b.rules.pop();
    const patch = diffPlans(a, b);
    expect(patch).toContainEqual({ op: 'replace', path: '/recurringFee/amount', value: '27.99' });
    expect(patch).toContainEqual({ op: 'remove', path: `/rules/${a.rules.length - 1}` });
  });

  it('reports a broken file with its path and a duplicate code across files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'catalog-'));
    await mkdir(join(dir, 'plans'));
    await copyFile(join(CATALOG_DIR, 'plans/prepaid-payg.json'), join(dir, 'plans/a.json'));
    await copyFile(join(CATALOG_DIR, 'plans/prepaid-payg.json'), join(dir, 'plans/b.json'));
    await writeFile(join(dir, 'plans/c.json'), '{ "code": ');
    const loaded = await loadCatalogDir(dir);
    expect(loaded.valid).toBe(false);
    expect(loaded.problems).toContainEqual(expect.objectContaining({ file: 'plans/c.json', code: 'INVALID_JSON' }));
    expect(loaded.problems).toContainEqual(expect.objectContaining({ file: 'plans/b.json', code: 'DUPLICATE_CODE' }));
  });
});
