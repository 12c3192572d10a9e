import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Decimal from 'decimal.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot as root, runCli, type CliRun } from './cli-process';

const cli = (...args: string[]) => runCli(args, process.env);

/** A catalog directory with a broken plan and a file that is not JSON. */
function brokenCatalog(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-'));
  fs.mkdirSync(path.join(dir, 'plans'));
  fs.mkdirSync(path.join(dir, 'offers'));
  const plan = JSON.parse(fs.readFileSync(path.join(root, 'catalog/plans/prepaid-payg.json'), 'utf8'));
  const rate = plan.rules.find((r: { event: { type: string } }) => r.event.type === 'rate');
  rate.event.params.pricePerUnit = 'ten cents';
  plan.rules[0].conditions = { all: [{ fact: 'usageTyp', operator: 'equal', value: 'VOICE' }] };
  fs.writeFileSync(path.join(dir, 'plans', 'broken.json'), JSON.stringify(plan));
  fs.writeFileSync(path.join(dir, 'plans', 'not-json.json'), '{ "code": ');
  return dir;
}

// The commands only read files: the four runs start together (cli-process.ts) and each test awaits its own.
let runs: Record<'validate' | 'broken' | 'diff' | 'simulate', Promise<CliRun>>;
beforeAll(() => {
  runs = {
    validate: cli('catalog', 'validate'),
    broken: cli('catalog', 'validate', brokenCatalog()),
    diff: cli('catalog', 'diff', 'catalog/plans/prepaid-payg.json', 'catalog/plans/prepaid-bundle-30d.json'),
    simulate: cli('catalog', 'simulate', 'catalog/plans/postpaid-20gb.json', '--compare', 'catalog/plans/prepaid-payg.json'),
  };
});

describe('ledgerline catalog', () => {
  it('validates the shipped catalog', async () => {
    const r = await runs.validate;
    expect(r.stdout).toMatch(/^\d+ document\(s\) valid$/m);
    expect(r.status).toBe(0);
  });

  it('exits non-zero listing each problem of a broken plan with its JSON pointer', async () => {
    const r = await runs.broken;
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('plans/broken.json: /rules/0/conditions/all/0/fact:');
    expect(r.stdout).toMatch(/plans\/broken\.json: \/rules\/\d+\/event\/params\/pricePerUnit:/);
    expect(r.stdout).toMatch(/plans\/not-json\.json: \(document\):.*\[INVALID_JSON\]/);
  });

  it('diffs two plan files as a JSON patch', async () => {
    const r = await runs.diff;
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^replace +\/code = "PREPAID_BUNDLE_30D"$/m);
  });

  it('simulates a plan on sample usage and compares plans', async () => {
    const r = await runs.simulate;
    expect(r.status).toBe(0);
    const sum = /^usage ([\d.]+) \+ recurring 29\.99 \+ add-ons ([\d.]+) \+ one-off ([\d.]+) = ([\d.]+) EUR$/m.exec(r.stdout);
    expect(sum).not.toBeNull();
    // The parts add up to the total (the activation fee counts since simulation prices one-off fees).
    const [usage, addOns, oneOff, total] = [sum![1], sum![2], sum![3], sum![4]].map((x) => new Decimal(x));
    expect(usage.plus('29.99').plus(addOns).plus(oneOff).toFixed()).toBe(total.toFixed());
    expect(r.stdout).toMatch(/cheapest first:\n {2}POSTPAID_20GB/);
  });
});
