// Disputes, pure: the amount rules, the auto-assessment facts (exact integers, never floats), the
// rules document (catalog/disputes/auto-assessment.json) checked problem by problem, and the
// assessment itself (json-rules-engine). No I/O, time passed in.
import { Engine } from 'json-rules-engine';
import { DEFAULT_DISPUTE_POLICY, DomainError, badInput, disputeSlaMs, type DisputePolicy, dec, isCurrencyCode, minorUnits, type Decimal } from '@ledgerline/contracts';

export type DisputeStatus = 'OPEN' | 'IN_REVIEW' | 'ACCEPTED' | 'REJECTED' | 'WITHDRAWN';
export const OPEN_DISPUTE_STATUSES: readonly DisputeStatus[] = ['OPEN', 'IN_REVIEW'];
export const isOpenDispute = (status: string): boolean => (OPEN_DISPUTE_STATUSES as readonly string[]).includes(status);

export type DisputeTarget = 'INVOICE' | 'LINE' | 'USAGE_RECORD';

/**
 * A disputed (or credited) amount as the customer wrote it: a decimal above zero in the currency's
 * minor units (5.005 EUR is nobody's amount). BAD_USER_INPUT naming `field`.
 */
export function disputeAmount(raw: unknown, currency: string, field = 'input.amount', what = 'A disputed amount'): Decimal {
  let amount: Decimal;
  try {
    amount = dec(String(raw));
  } catch {
    throw badInput(field, `${what} is a decimal number such as "12.50" (got ${JSON.stringify(raw)})`, 'DISPUTE_AMOUNT_INVALID');
  }
  if (!amount.isFinite()) throw badInput(field, `${what} is a decimal number such as "12.50" (got ${JSON.stringify(raw)})`, 'DISPUTE_AMOUNT_INVALID');
  if (amount.lte(0)) throw badInput(field, `${what} is above zero (got ${String(raw)})`, 'DISPUTE_AMOUNT_NOT_POSITIVE');
  const scale = minorUnits(currency);
  if (amount.decimalPlaces() > scale) {
    throw badInput(field, `${currency} amounts have ${scale === 0 ? 'no decimal places' : `at most ${scale} decimal place${scale === 1 ? '' : 's'}`} (got ${String(raw)})`, 'DISPUTE_AMOUNT_PRECISION');
  }
  return amount;
}

/** An amount in the currency's minor units, as an exact integer (a JS number only while it is a safe integer). */
export function toMinor(amount: string | Decimal, currency: string): number {
  const minor = dec(amount).times(dec(`1${'0'.repeat(minorUnits(currency))}`)).toDecimalPlaces(0, 1);
  const n = minor.toNumber();
  if (!Number.isSafeInteger(n)) throw new DomainError('DISPUTE_AMOUNT_TOO_LARGE', `${dec(amount).toFixed()} ${currency} is too large to assess`, { field: 'input.amount' });
  return n;
}

export interface AssessmentFacts {
  amountMinor: number;
  invoiceTotalMinor: number;
  disputedBasisPoints: number;
  /** The invoice's ISO 4217 code: amountMinor means nothing without it (500 is 5.00 EUR but 500 JPY). */
  currency: string;
  target: DisputeTarget;
  lineKind: string | null;
  acceptedDisputesLast365Days: number;
}

export function assessmentFacts(c: { amount: string; invoiceTotal: string; currency: string; target: DisputeTarget; lineKind: string | null; acceptedDisputesLast365Days: number }): AssessmentFacts {
  const total = dec(c.invoiceTotal);
  // The share of the invoice in basis points, rounded down; all of it when the invoice billed nothing.
  const basisPoints = total.gt(0) ? dec(c.amount).times(10_000).dividedBy(total).toDecimalPlaces(0, 1).toNumber() : 10_000;
  return {
    amountMinor: toMinor(c.amount, c.currency),
    invoiceTotalMinor: toMinor(c.invoiceTotal, c.currency),
    disputedBasisPoints: basisPoints,
    currency: c.currency,
    target: c.target,
    lineKind: c.lineKind,
    acceptedDisputesLast365Days: c.acceptedDisputesLast365Days,
  };
}

export interface Assessment {
  decision: 'ACCEPT' | 'REVIEW';
  /** The rule that accepted; with REVIEW, a rule that fired but whose credit could not be applied (autoAcceptRefused). */
  rule: string | null;
  facts: AssessmentFacts;
  /** Why the accepting rule's credit was refused (e.g. the line was credited apart since the dispute opened). */
  autoAcceptRefused?: { code: string; message: string };
}

export interface DisputeRule {
  name: string;
  priority: number;
  conditions: unknown;
  event: { type: 'ACCEPT' };
}

export { DEFAULT_DISPUTE_POLICY, type DisputePolicy };

export interface DisputeRules {
  rules: DisputeRule[];
}

/** Runs the rules on the facts: the accepting rule of the highest priority (then the first in the file), or REVIEW. */
export async function assess(rules: DisputeRules, facts: AssessmentFacts): Promise<Assessment> {
  // A fresh Engine per assessment: an Engine must not run two evaluations at once.
  const engine = new Engine([], { allowUndefinedFacts: true });
  rules.rules.forEach((r) => engine.addRule({ name: r.name, priority: r.priority, conditions: structuredClone(r.conditions) as never, event: r.event }));
  const { results } = await engine.run({ ...facts });
  const order = new Map(rules.rules.map((r, i) => [r.name, i]));
  const fired = results
    .filter((r) => r.result)
    .map((r) => rules.rules[order.get(String(r.name))!]!)
    .sort((a, b) => b.priority - a.priority || order.get(a.name)! - order.get(b.name)!);
  const winner = fired[0];
  return winner ? { decision: 'ACCEPT', rule: winner.name, facts } : { decision: 'REVIEW', rule: null, facts };
}

/**
 * When an agent's decision is due: the review SLA from the dispute's assessment, then each
 * escalation's SLA from the escalation (the policy the workflow runs with, so what the dispute
 * shows is when the workflow acts).
 */
export function reviewDueAt(policy: DisputePolicy, now: Date, escalated = false): Date {
  return new Date(now.getTime() + disputeSlaMs(policy, escalated ? 1 : 0));
}

// --- the rules document ---------------------------------------------------------------------

const INTEGER_FACTS = ['amountMinor', 'invoiceTotalMinor', 'disputedBasisPoints', 'acceptedDisputesLast365Days'] as const;
const STRING_FACTS: Record<string, readonly string[]> = {
  target: ['INVOICE', 'LINE', 'USAGE_RECORD'],
  lineKind: ['RECURRING', 'USAGE', 'ONE_OFF', 'DISCOUNT', 'ADJUSTMENT', 'LATE_FEE'],
  currency: [], // any ISO 4217 code the platform bills in (isCurrencyCode)
};
const FACTS = [...INTEGER_FACTS, ...Object.keys(STRING_FACTS)];
const COMPARISONS = ['lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive'];
const OPERATORS = ['equal', 'notEqual', 'in', 'notIn', ...COMPARISONS];

export interface RuleProblem {
  /** RFC 6901 JSON pointer into the document ("" is the document). */
  pointer: string;
  message: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every problem of a rules document (none: it is valid). */
export function checkDisputeRules(doc: unknown): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const add = (pointer: string, message: string) => problems.push({ pointer, message });
  if (!isObject(doc)) return [{ pointer: '', message: 'must be an object with rules' }];
  // The review deadlines are the dispute policy's (DISPUTE_POLICY), not the rules'.
  for (const key of Object.keys(doc)) if (!['$comment', 'rules'].includes(key)) add(`/${key}`, 'unknown field (known: $comment, rules)');
  if (!Array.isArray(doc.rules)) {
    add('/rules', 'must be an array of rules');
    return problems;
  }
  const names = new Set<string>();
  doc.rules.forEach((rule, i) => {
    const at = `/rules/${i}`;
    if (!isObject(rule)) return add(at, 'must be an object with name, conditions and event');
    for (const key of Object.keys(rule)) if (!['name', 'priority', 'conditions', 'event', '$comment'].includes(key)) add(`${at}/${key}`, 'unknown field (known: name, priority, conditions, event)');
    if (typeof rule.name !== 'string' || !/^[a-z0-9][a-z0-9-]{0,59}$/.test(rule.name)) add(`${at}/name`, 'must be a lower-case name of letters, digits and dashes (it becomes decidedBy auto:<name>)');
    else if (names.has(rule.name)) add(`${at}/name`, `"${rule.name}" is the name of an earlier rule`);
    else names.add(rule.name);
    if (rule.priority !== undefined && !(Number.isInteger(rule.priority) && (rule.priority as number) >= 1)) add(`${at}/priority`, 'must be a whole number from 1');
    if (!isObject(rule.event) || rule.event.type !== 'ACCEPT' || Object.keys(rule.event).some((k) => k !== 'type')) add(`${at}/event`, 'must be { "type": "ACCEPT" } (a rule accepts; a dispute no rule accepts goes to review)');
    checkCondition(rule.conditions, `${at}/conditions`, add, true);
  });
  return problems;
}

function checkCondition(c: unknown, at: string, add: (pointer: string, message: string) => void, top = false): void {
  if (!isObject(c)) return add(at, top ? 'must be an object with all, any or not' : 'must be a condition object');
  const groups = ['all', 'any', 'not'].filter((k) => k in c);
  if (groups.length > 0 || top) {
    if (groups.length !== 1 || Object.keys(c).length !== 1) return add(at, 'must have exactly one of all, any or not, and nothing else');
    const key = groups[0]!;
    if (key === 'not') return checkCondition(c.not, `${at}/not`, add);
    const list = c[key];
    if (!Array.isArray(list) || list.length === 0) return add(`${at}/${key}`, 'must be a non-empty array of conditions');
    list.forEach((item, i) => checkCondition(item, `${at}/${key}/${i}`, add));
    return;
  }
  for (const key of Object.keys(c)) if (!['fact', 'operator', 'value'].includes(key)) add(`${at}/${key}`, 'unknown field (a condition has fact, operator and value)');
  if (typeof c.fact !== 'string' || !FACTS.includes(c.fact)) {
    add(`${at}/fact`, `unknown fact ${JSON.stringify(c.fact)} (known: ${FACTS.join(', ')})`);
    return;
  }
  if (typeof c.operator !== 'string' || !OPERATORS.includes(c.operator)) {
    add(`${at}/operator`, `unknown operator ${JSON.stringify(c.operator)} (known: ${OPERATORS.join(', ')})`);
    return;
  }
  const integer = (INTEGER_FACTS as readonly string[]).includes(c.fact);
  const allowed = STRING_FACTS[c.fact];
  if (!integer && COMPARISONS.includes(c.operator)) return add(`${at}/operator`, `${c.operator} compares numbers; ${c.fact} is a string`);
  const checkValue = (v: unknown, pointer: string) => {
    if (integer) {
      if (!Number.isSafeInteger(v)) add(pointer, `${c.fact} is an exact integer; the value must be a whole number (no decimals, no strings), got ${JSON.stringify(v)}`);
    } else if (c.fact === 'currency') {
      if (!isCurrencyCode(v)) add(pointer, `currency is an ISO 4217 code the platform bills in, such as "EUR" or "JPY"; got ${JSON.stringify(v)}`);
    } else if (!(v === null && c.fact === 'lineKind') && !(typeof v === 'string' && allowed!.includes(v))) {
      add(pointer, `${c.fact} is one of ${allowed!.join(', ')}${c.fact === 'lineKind' ? ' or null' : ''}; got ${JSON.stringify(v)}`);
    }
  };
  if (c.operator === 'in' || c.operator === 'notIn') {
    if (!Array.isArray(c.value) || c.value.length === 0) return add(`${at}/value`, `${c.operator} takes a non-empty array of values`);
    c.value.forEach((v, i) => checkValue(v, `${at}/value/${i}`));
  } else {
    checkValue(c.value, `${at}/value`);
  }
}

/** A checked rules document; a bad one is an Error listing every problem by its JSON pointer. */
export function parseDisputeRules(text: string, source: string): DisputeRules {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  const problems = checkDisputeRules(doc);
  if (problems.length > 0) throw new Error(`${source} is not a valid dispute rules document:\n${problems.map((p) => `  ${p.pointer || '/'}: ${p.message}`).join('\n')}`);
  const d = doc as { rules: { name: string; priority?: number; conditions: unknown; event: { type: 'ACCEPT' } }[] };
  return { rules: d.rules.map((r) => ({ name: r.name, priority: r.priority ?? 1, conditions: r.conditions, event: { type: 'ACCEPT' } })) };
}

/**
 * The idempotency keys of disputes staff open with the legacy `disputeInvoice` (a put on hold for
 * review): `disputeInvoice:<invoiceId>:<n>`, the n-th on that invoice. Reserved for it (no caller of
 * openDispute may take one); such a dispute is decided by staff, never accepted by the rules or a
 * deadline.
 */
export const STAFF_HOLD_KEY_PREFIX = 'disputeInvoice:';
export const staffHoldKey = (invoiceId: string, n: number): string => `${STAFF_HOLD_KEY_PREFIX}${invoiceId}:${n}`;
export const isStaffHold = (d: { idempotency_key?: string | null }): boolean => typeof d.idempotency_key === 'string' && d.idempotency_key.startsWith(STAFF_HOLD_KEY_PREFIX);

/**
 * A dispute's `decidedBy` as `viewer` may read it: staff as stored; anyone else only what says how it
 * closed (`auto:<rule>`, `rerate:<charge>`, `creditNote:<number>`, `regenerateInvoice`, `resolveDispute`)
 * or names them (their own withdrawal), else null: which agent decided is the operator's own (the
 * events hub drops it for partners alike).
 */
export function decidedByFor(decidedBy: string | null | undefined, viewer: { staff: boolean; subject: string }): string | null {
  if (decidedBy == null) return null;
  if (viewer.staff) return decidedBy;
  if (/^(auto|rerate|creditNote):/.test(decidedBy) || decidedBy === 'regenerateInvoice' || decidedBy === 'resolveDispute') return decidedBy;
  return decidedBy === viewer.subject ? decidedBy : null;
}
