/**
 * Bug: validatePlan accepts any ISO 4217 code Intl knows (semantic-validator.ts: CURRENCIES =
 * Intl.supportedValuesOf('currency')), but the money code the rest of the platform bills with
 * knows the minor units of only 17 currencies (services/contracts/src/money.ts MINOR_UNITS) and
 * throws MONEY_UNKNOWN_CURRENCY for every other one. A plan in CAD, AUD, MXN, CZK, HUF, TRY…
 * validates and publishes, and then every amount that must be rounded to the currency's minor
 * unit fails: plan-change proration (contracts allowance-period.ts), invoice amounts and payments
 * (invoicing), i.e. the plan cannot be billed.
 *
 * How a user meets it: a Canadian operator's product manager publishes a CAD plan (validation
 * says it is fine); the first plan change or bill run for it fails with MONEY_UNKNOWN_CURRENCY.
 *
 * Fix: one source of truth for billable currencies: either derive minor units for every ISO 4217
 * code (e.g. `new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
 * .maximumFractionDigits`, ISO exponents) in contracts' minorUnits, or have the plan validator
 * refuse (with pointer /currency) a currency the money code cannot bill. A currency validatePlan
 * accepts must have minor units.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { minorUnits } from '@ledgerline/contracts';
import type { PlanDocument } from '../domain/plan-types';
import { validatePlan } from './validate-plan';

const SAMPLE = fileURLToPath(new URL('../../../../catalog/plans/prepaid-payg.json', import.meta.url));

describe('a plan in a currency the money code does not know', () => {
  it.each(['CAD', 'AUD', 'CZK'])('%s: either refused by validatePlan at /currency, or billable (minor units known)', (currency) => {
    const plan: PlanDocument = { ...JSON.parse(readFileSync(SAMPLE, 'utf8')), currency };
    const report = validatePlan(plan);
    if (!report.valid) {
      expect(report.problems.map((p) => p.pointer)).toContain('/currency');
      return;
    }
    let digits: number | string;
    try {
      digits = minorUnits(currency);
    } catch (error) {
      digits = `threw ${(error as Error).message}`;
    }
    expect(digits, `validatePlan accepted a ${currency} plan; minorUnits("${currency}")`).toBe(2);
  });
});
