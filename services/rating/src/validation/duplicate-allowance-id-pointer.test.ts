/**
 * A duplicate allowance id was reported at "/allowances" whichever allowance repeated it, so a
 * product manager whose add-on reused a plan allowance's id was sent to the plan's list, and two
 * repeats gave two identical lines. Each duplicate is reported at its own id.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Allowance, PlanDocument } from '../domain/plan-types';
import { validatePlan } from './validate-plan';

const read = <T>(path: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../catalog/${path}`, import.meta.url)), 'utf8'));

describe('a duplicate allowance id', () => {
  it('is reported at the id of each allowance that repeats it, in the plan or in an add-on', () => {
    const plan = read<PlanDocument>('plans/postpaid-20gb.json');
    const first = plan.allowances[0];
    const copy: Allowance = { ...first, name: 'copy' };
    plan.allowances.push(copy);
    plan.addOns = [{ code: 'EXTRA_BUNDLE', name: 'Extra', price: '5.00', validityDays: 30, allowances: [{ ...first, name: 'add-on copy' }] }];
    const duplicates = validatePlan(plan).problems.filter((p) => p.code === 'DUPLICATE_ID');
    expect(duplicates.map((p) => p.pointer)).toEqual([`/allowances/${plan.allowances.length - 1}/id`, '/addOns/0/allowances/0/id']);
    expect(duplicates[0].message).toContain(`"${first.id}"`);
    expect(duplicates[0].message).toContain('/allowances/0');
  });
});
