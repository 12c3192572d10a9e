// Plan versions from the catalog, cached: in memory (versions are immutable) and in the
// `plan_version` table, so a bill run asks the catalog at most once per version.
import { DomainError, dec } from '@ledgerline/contracts';
import type { DiscountItem, DiscountTarget, SurchargeItem } from '../domain/compose';
import type { Em } from '@ledgerline/platform';
import { rows, sql } from './sql';

export interface PlanDoc {
  code: string;
  name: string;
  taxCategory: string;
  maxLines?: number;
  recurringFee?: { amount: string; period: 'MONTH' | 'DAYS30' | 'WEEK'; proration: 'DAILY' | 'NONE' };
  rules?: PlanRule[];
}

interface RuleCondition {
  fact: string;
  operator: string;
  value: unknown;
}
interface PlanRule {
  name: string;
  conditions?: { all?: RuleCondition[]; any?: RuleCondition[]; [other: string]: unknown };
  event?: { type: string; params?: Record<string, unknown> };
}

const INVOICE_SCOPES: Record<string, DiscountTarget> = { INVOICE: 'INVOICE', USAGE: 'USAGE', USAGE_TOTAL: 'USAGE', RECURRING: 'RECURRING', RECURRING_FEE: 'RECURRING' };

function holds(c: RuleCondition, facts: Record<string, number>): boolean {
  const v = facts[c.fact];
  if (v === undefined || typeof c.value !== 'number') return false;
  switch (c.operator) {
    case 'equal': return v === c.value;
    case 'notEqual': return v !== c.value;
    case 'greaterThan': return v > c.value;
    case 'greaterThanInclusive': return v >= c.value;
    case 'lessThan': return v < c.value;
    case 'lessThanInclusive': return v <= c.value;
    default: return false;
  }
}

/**
 * Whether an invoice-level rule's conditions hold for the account. Only a flat `all`/`any` of account
 * facts is read; anything else (a top-level `not`, a lone leaf) would otherwise count as no
 * condition and apply the rule to every account, so it does not apply.
 */
function ruleApplies(rule: PlanRule, facts: Record<string, number>): boolean {
  if (rule.conditions && Object.keys(rule.conditions).some((k) => k !== 'all' && k !== 'any')) return false;
  const all = rule.conditions?.all ?? [];
  const any = rule.conditions?.any ?? [];
  return all.every((c) => holds(c, facts)) && (any.length === 0 || any.some((c) => holds(c, facts)));
}

/**
 * The plan's invoice-level discount rules (event type "discount" with scope INVOICE, USAGE or
 * RECURRING; scope EVENT is applied by rating, per usage record) whose conditions hold for the
 * account. Conditions may only use account facts invoicing knows (lineCount), in one flat `all`
 * or `any` list (the catalog validator says the same for these scopes); a rule with any other fact
 * or shape does not apply here.
 */
export function planRuleDiscounts(plan: PlanDoc, facts: { lineCount: number }): DiscountItem[] {
  const out: DiscountItem[] = [];
  for (const rule of plan.rules ?? []) {
    if (rule.event?.type !== 'discount') continue;
    const p = rule.event.params ?? {};
    const target = INVOICE_SCOPES[String(p.scope ?? '')];
    if (!target) continue;
    if (!ruleApplies(rule, facts)) continue;
    const percent = p.percent != null ? dec(String(p.percent)).toFixed() : null;
    const amount = percent == null && p.amount != null ? dec(String(p.amount)).toFixed() : null;
    if (percent == null && amount == null) continue;
    out.push({ code: `PLAN:${plan.code}:${rule.name}`.slice(0, 80), description: String(p.label ?? rule.name), percent, amount, target });
  }
  return out;
}

/**
 * The plan's invoice-level surcharge rules (event type "surcharge" with scope INVOICE; the schema
 * allows only EVENT, priced by rating per usage record, and INVOICE) whose conditions hold for the
 * account, read as discounts' are (lineCount in one flat `all`/`any`; another fact is held false).
 * A fixed amount is taxed in the plan's tax category. `rule` is the rule's name: the same rule on
 * several of the account's plans is one surcharge (bill-accounts).
 */
export function planRuleSurcharges(plan: PlanDoc, facts: { lineCount: number }): (SurchargeItem & { rule: string })[] {
  const out: (SurchargeItem & { rule: string })[] = [];
  for (const rule of plan.rules ?? []) {
    if (rule.event?.type !== 'surcharge') continue;
    const p = rule.event.params ?? {};
    if (p.scope !== 'INVOICE' || !ruleApplies(rule, facts)) continue;
    const percent = p.percent != null ? dec(String(p.percent)).toFixed() : null;
    const amount = percent == null && p.amount != null ? dec(String(p.amount)).toFixed() : null;
    if (percent == null && amount == null) continue;
    out.push({ code: `PLAN:${plan.code}:${rule.name}`.slice(0, 80), rule: rule.name, description: String(p.label ?? rule.name), percent, amount, taxCategory: plan.taxCategory });
  }
  return out;
}

/** Reads `planVersion(id){ document }` from the catalog subgraph. */
export class CatalogClient {
  constructor(private readonly url: string) {}

  async planVersion(id: string): Promise<Record<string, unknown> | null> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query($id: ID!) { planVersion(id: $id) { document } }', variables: { id } }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as { data?: { planVersion: { document: Record<string, unknown> } | null }; errors?: { message: string }[] };
    if (body.errors?.length) throw new Error(`catalog: ${body.errors[0]!.message}`);
    return body.data?.planVersion?.document ?? null;
  }
}

const memory = new Map<string, PlanDoc>();

export async function loadPlans(em: Em, ids: string[], catalog: CatalogClient | null, now: Date): Promise<Map<string, PlanDoc>> {
  const result = new Map<string, PlanDoc>();
  const missing = ids.filter((id) => {
    const hit = memory.get(id);
    if (hit) result.set(id, hit);
    return !hit;
  });
  if (missing.length > 0) {
    for (const r of await rows<{ id: string; document: PlanDoc | string }>(em, 'select id, document from plan_version where id = any(?::text[])', [missing])) {
      const doc = typeof r.document === 'string' ? (JSON.parse(r.document) as PlanDoc) : r.document;
      memory.set(r.id, doc);
      result.set(r.id, doc);
    }
  }
  for (const id of ids) {
    if (result.has(id)) continue;
    const doc = catalog ? await catalog.planVersion(id) : null;
    if (!doc) throw new DomainError('PLAN_VERSION_UNKNOWN', `Plan version ${id} is neither known here nor in the catalog`, { field: 'planVersionId', planVersionId: id });
    await sql(em)('plan_version').insert({ id, plan_code: String(doc.code), document: JSON.stringify(doc), fetched_at: now }).onConflict('id').ignore();
    memory.set(id, doc as unknown as PlanDoc);
    result.set(id, doc as unknown as PlanDoc);
  }
  return result;
}
