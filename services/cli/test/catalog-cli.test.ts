import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Decimal from 'decimal.js';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'services/cli/bin/ledgerline.mjs'), ...args], { cwd: root, encoding: 'utf8' });

describe('ledgerline catalog', () => {
  it('validates the shipped catalog', () => {
    const r = cli('catalog', 'validate');
    expect(r.stdout).toMatch(/^\d+ document\(s\) valid$/m);
    expect(r.status).toBe(0);
  });

  it('exits non-zero listing each problem of a broken plan with its JSON pointer', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-'));
    fs.mkdirSync(path.join(dir, 'plans'));
    fs.mkdirSync(path.join(dir, 'offers'));
    const plan = JSON.parse(fs.readFileSync(path.join(root, 'catalog/plans/prepaid-payg.json'), 'utf8'));
    const rate = plan.rules.find((r: { event: { type: string } }) => r.event.type === 'rate');
    rate.event.params.pricePerUnit = 'ten cents';
    plan.rules[0].conditions = { all: [{ fact: 'usageTyp', operator: 'equal', value: 'VOICE' }] };
    fs.writeFileSync(path.join(dir, 'plans', 'broken.json'), JSON.stringify(plan));
    fs.writeFileSync(path.join(dir, 'plans', 'not-json.json'), '{ "code": ');
    const r = cli('catalog', 'validate', dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('plans/broken.json: /rules/0/conditions/all/0/fact:');
    expect(r.stdout).toMatch(/plans\/broken\.json: \/rules\/\d+\/event\/params\/pricePerUnit:/);
    expect(r.stdout).toMatch(/plans\/not-json\.json: \(document\):.*\[INVALID_JSON\]/);
  });

  it('diffs two plan files as a JSON patch', () => {
    const r = cli('catalog', 'diff', 'catalog/plans/prepaid-payg.json', 'catalog/plans/prepaid-bundle-30d.json');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^replace +\/code = "PREPAID_BUNDLE_30D"$/m);
  });

  it('simulates a plan on sample usage and compares plans', () => {
    const r = cli('catalog', 'simulate', 'catalog/plans/postpaid-20gb.json', '--compare', 'catalog/plans/prepaid-payg.json');
    expect(r.status).toBe(0);
    const sum = /^usage ([\d.]+) \+ recurring 29\.99 \+ add-ons ([\d.]+) \+ one-off ([\d.]+) = ([\d.]+) EUR$/m.exec(r.stdout);
    expect(sum).not.toBeNull();
    // The parts add up to the total (the activation fee counts since simulation prices one-off fees).
    const [usage, addOns, oneOff, total] = [sum![1], sum![2], sum![3], sum![4]].map((x) => new Decimal(x));
    expect(usage.plus('29.99').plus(addOns).plus(oneOff).toFixed()).toBe(total.toFixed());
    expect(r.stdout).toMatch(/cheapest first:\n {2}POSTPAID_20GB/);
  });
});
