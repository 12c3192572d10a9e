/**
 * `ledgerline catalog publish --effective-from <date-time>`: the command had no way to date what it
 * publishes, so a plan the catalog refused with PLAN_VERSION_SCHEDULED (a version scheduled from
 * Plan Studio for later) could never be imported from the repository, and the refusal stopped the
 * whole run with the bare message on stderr. Now the option is checked when the command is parsed
 * (RFC 3339 with an offset, a real date: exit 1 naming it, nothing sent), the date is passed to
 * `importPlan`, and a refused plan is printed with the catalog's message, its reason code and what
 * to do, the other plans still published, exit 1.
 *
 * The CLI runs as users run it against the real catalog service behind a stand-in gateway
 * (catalog-behind-gateway.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, type TestService } from '@ledgerline/platform';
import { repoRoot as root, startCatalogBehindGateway, type CatalogBehindGateway } from './catalog-behind-gateway';

let env: CatalogBehindGateway;
let svc: TestService;
const clock = new ManualClock(new Date('2026-03-01T09:00:00Z'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-publish-'));
const planFile = path.join(dir, 'plans', 'prepaid-payg.json');
const basePlan = JSON.parse(fs.readFileSync(path.join(root, 'catalog/plans/prepaid-payg.json'), 'utf8'));
const writePlan = (name: string) => fs.writeFileSync(planFile, JSON.stringify({ ...basePlan, name }));
const cli = (...args: string[]) => env.cli(...args);

beforeAll(async () => {
  env = await startCatalogBehindGateway(clock);
  svc = env.svc;
  fs.mkdirSync(path.join(dir, 'plans'));
  fs.cpSync(path.join(root, 'catalog/offers'), path.join(dir, 'offers'), { recursive: true });
});

afterAll(async () => env?.close());

describe('ledgerline catalog publish --effective-from', () => {
  it('dates the publish after a scheduled version the catalog refused it for, and shows the refusal plainly', async () => {
    writePlan('Pay as you go');
    const first = await cli('catalog', 'publish', dir);
    expect(first.stdout).toContain('plan PREPAID_PAYG (plans/prepaid-payg.json): published as version 1, effective 2026-03-01T09:00:00.000Z');
    expect(first.status).toBe(0);

    // A product manager schedules version 2 for April from Plan Studio.
    const scheduled = await svc.request('mutation($i: ImportPlanInput!) { importPlan(input: $i) { version { id version } } }', {
      i: { document: { ...basePlan, name: 'Pay as you go (April)' }, effectiveFrom: '2026-04-01T00:00:00Z' },
    });
    expect(scheduled.data.importPlan.version.version).toBe(2);

    writePlan('Pay as you go (2026)');
    const refused = await cli('catalog', 'publish', dir);
    expect(refused.status).toBe(1);
    expect(refused.stdout).toContain('plan PREPAID_PAYG (plans/prepaid-payg.json): not published: Plan PREPAID_PAYG has version 2 scheduled to take effect at 2026-04-01T00:00:00.000Z');
    expect(refused.stdout).toContain('[PLAN_VERSION_SCHEDULED]');
    expect(refused.stdout).toContain(`publish again with --effective-from after that date, or withdraw that version first (cancelScheduledPlanVersion, versionId ${scheduled.data.importPlan.version.id})`);
    expect(refused.stdout).toMatch(/^1 plan\(s\) not published$/m);
    expect(refused.stdout).toMatch(/^offer .* published$/m); // the offers went through

    const dated = await cli('catalog', 'publish', dir, '--effective-from', '2026-05-01T02:00:00+02:00');
    expect(dated.stdout).toContain('plan PREPAID_PAYG (plans/prepaid-payg.json): published as version 3, effective 2026-05-01T00:00:00.000Z');
    expect(dated.status).toBe(0);
    const p = await svc.request('{ plan(code: "PREPAID_PAYG") { may: versionAt(at: "2026-05-01T00:00:00Z") { version document } april: versionAt(at: "2026-04-15T00:00:00Z") { version } } }');
    expect({ may: p.data.plan.may.version, name: p.data.plan.may.document.name, april: p.data.plan.april.version }).toEqual({ may: 3, name: 'Pay as you go (2026)', april: 2 });
  });

  it("passes the catalog's refusal of a date in the past through, named", async () => {
    writePlan('Pay as you go (past)');
    const r = await cli('catalog', 'publish', dir, '--effective-from', '2026-02-01T00:00:00Z');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/not published: A version cannot take effect in the past .*\[PLAN_EFFECTIVE_IN_PAST\]/);
  });

  it('refuses a malformed --effective-from before anything is sent, naming the option', async () => {
    const values = ['tomorrow', '2026-05-01', '2026-05-01T00:00:00', '2026-02-30T00:00:00Z', '2026-05-01T24:00:00Z'];
    // The runs side by side: each counts only its own requests (`sent`).
    const runs = await Promise.all(values.map((value) => cli('catalog', 'publish', dir, '--effective-from', value)));
    values.forEach((value, i) => {
      const r = runs[i]!;
      expect(r.status, value).toBe(1);
      expect(r.stderr, value).toContain("option '--effective-from <date-time>' argument");
      expect(r.stderr, value).toContain('give RFC 3339, e.g. 2026-05-01T00:00:00Z');
      expect(r.sent, value).toBe(0);
    });
  });
});
