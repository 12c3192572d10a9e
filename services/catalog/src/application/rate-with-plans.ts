import { badInput, notFound } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { checkUsageFields, usageEventOf, comparePlans as compareCompiled, compilePlan, simulate, PlanValidationError, RatingInputError, type CompiledPlan, type CustomerType, type LineStatus, type SubscriberContext, type UsageEvent } from '@ledgerline/rating';
import { Plan, PlanVersion } from '../persistence/entities';
import { versionInForce } from '../domain/plan-lifecycle';
import type { UsageHistory } from '../adapters/usage-history';
import { invalidPlanError, knownOffers } from './plan-documents';

export interface UsageRecordInput {
  id: string;
  usageType: string;
  direction?: string | null;
  quantity: string;
  occurredAt: Date;
  calledNumber?: string | null;
  roamingCountry?: string | null;
  visitedMcc?: string | null;
}

export interface SubscriberFactsInput {
  accountType?: 'PREPAID' | 'POSTPAID' | null;
  /** The schema's enums hold these to the values rating tells apart. */
  customerType?: CustomerType | null;
  lineCount?: number | null;
  lineStatus?: LineStatus | null;
  spendInPeriod?: string | null;
  allowanceUsedRatios?: Record<string, string> | null;
  activeAddOns?: string[] | null;
}

/** Published versions never change, so each compiles once per process. Drafts compile per call. */
const compiledVersions = new Map<string, CompiledPlan>();

async function compileVersion(em: Em, version: PlanVersion, plan: Plan): Promise<CompiledPlan> {
  const cached = compiledVersions.get(version.id);
  if (cached) return cached;
  try {
    const compiled = compilePlan(JSON.parse(version.document), { version: String(version.version ?? 'draft'), knownOffers: await knownOffers(em) });
    if (version.status !== 'DRAFT') compiledVersions.set(version.id, compiled);
    return compiled;
  } catch (error) {
    if (error instanceof PlanValidationError) throw invalidPlanError(plan.code, { valid: false, problems: error.problems });
    throw error;
  }
}

/**
 * The records as usage would rate them: their fields checked by usage's own rule (rating's checkUsageFields), so
 * "fr" is priced as FR and "" as not roaming, and a record usage would reject is refused naming its field, with
 * usage's code and reason. A record may be dated after now (a simulation of usage to come).
 */
function toEvents(records: readonly UsageRecordInput[]): UsageEvent[] {
  if (records.length > 10_000) throw badInput('input.records', 'Simulate at most 10,000 records per call', 'SIMULATION_TOO_LARGE');
  return records.map((r, index) => {
    const checked = checkUsageFields({ ...r, occurredAt: r.occurredAt.toISOString() });
    if (!checked.ok) throw badInput(`input.records[${index}].${checked.rejection.field}`, checked.rejection.reason, checked.rejection.code);
    return usageEventOf(r.id, checked.fields);
  });
}

/** The most lines a plan may be for (plan.schema.json maxLines); a larger count is a typo, not a subscription. */
const MAX_LINE_COUNT = 10_000;

/** A line count rules could not meet on a real subscription would price a situation that never happens. */
function assertLineCount(facts: SubscriberFactsInput | null | undefined): void {
  const n = facts?.lineCount;
  if (n != null && (n < 0 || n > MAX_LINE_COUNT)) throw badInput('input.subscriber.lineCount', `lineCount ${n} must be a whole number from 0 to ${MAX_LINE_COUNT}`, 'LINE_COUNT_INVALID');
}

function toContext(plan: Plan, facts: SubscriberFactsInput | null | undefined): SubscriberContext {
  assertLineCount(facts);
  return {
    accountType: (facts?.accountType ?? plan.paymentMode) as SubscriberContext['accountType'],
    customerType: facts?.customerType ?? undefined,
    lineCount: facts?.lineCount ?? 1,
    lineStatus: facts?.lineStatus ?? 'ACTIVE',
    spendInPeriod: facts?.spendInPeriod ?? undefined,
    allowanceUsedRatios: facts?.allowanceUsedRatios ?? undefined,
    activeAddOns: facts?.activeAddOns ?? undefined,
  };
}

/** A record the engine cannot read is the caller's input error, named by its index. */
async function guardRecords<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RatingInputError) throw badInput('input.records', error.message, 'USAGE_RECORD_INVALID');
    throw error;
  }
}

/** What a plan version would charge for these records: rules fired, allowance, charge per record. */
export async function simulateRating(em: Em, c: { planVersionId: string; records: UsageRecordInput[]; subscriber?: SubscriberFactsInput | null }) {
  const version = await em.findOne(PlanVersion, { id: c.planVersionId });
  if (!version) throw notFound('PlanVersion', c.planVersionId, 'input.planVersionId');
  const plan = (await em.findOne(Plan, { id: version.planId }))!;
  const compiled = await compileVersion(em, version, plan);
  const events = toEvents(c.records);
  // The offers named in activeAddOns add their allowances and price; fees are counted over the records' days.
  const offers = await knownOffers(em);
  const report = await guardRecords(() => simulate(compiled, events, toContext(plan, c.subscriber), { offers }));
  return {
    ...report,
    records: report.charges.map((charge) => ({
      recordId: charge.result.eventId,
      decision: charge.result.decision,
      denyReason: charge.result.denyReason ?? null,
      rulesFired: charge.result.trace.map((t) => t.rule),
      allowanceId: charge.result.allowanceId ?? null,
      chargedUnits: charge.result.chargedUnits,
      coveredUnits: charge.coveredUnits,
      charge: charge.charge,
      trace: charge.result,
    })),
  };
}

/** The same usage under each candidate plan's version in force now, cheapest first. */
export interface ComparePlansCommand {
  planCodes: string[];
  records?: UsageRecordInput[] | null;
  billingAccountId?: string | null;
  period?: string | null;
  subscriber?: SubscriberFactsInput | null;
  now: Date;
}

/** `YYYY-MM` → [first instant, first instant of the next month) in UTC. */
function monthBounds(period: string | null | undefined, now: Date): { from: Date; to: Date } {
  const text = period ?? now.toISOString().slice(0, 7);
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(text);
  if (!m) throw badInput('input.period', `"${text}" is not a period in the form YYYY-MM`, 'PERIOD_INVALID');
  const year = Number(m[1]);
  const month = Number(m[2]) - 1;
  return { from: new Date(Date.UTC(year, month, 1)), to: new Date(Date.UTC(year, month + 1, 1)) };
}

/** The usage to compare: given records, or an account's usage in a period from the usage service. */
export async function usageToCompare(c: ComparePlansCommand, history: UsageHistory): Promise<UsageRecordInput[]> {
  if ((c.records == null) === !c.billingAccountId) throw badInput('input', 'Give either records or billingAccountId (with an optional period)', 'COMPARE_INPUT_AMBIGUOUS');
  if (c.records) return c.records;
  const { from, to } = monthBounds(c.period, c.now);
  return history.recordsOf(c.billingAccountId!, from, to);
}

/**
 * A plan with no version in force is answered as an unknown code to a caller who may not know it
 * exists yet: `mayReadScheduled` (staff) for a plan whose published versions all take effect later,
 * `mayReadDrafts` (editors) for one never published. Those who may are told why (PLAN_NOT_PUBLISHED).
 */
export async function comparePlans(em: Em, c: ComparePlansCommand & { records: UsageRecordInput[]; mayReadDrafts: boolean; mayReadScheduled: boolean }) {
  if (c.planCodes.length === 0) throw badInput('input.planCodes', 'Name at least one plan to compare', 'COMPARE_NO_PLANS');
  assertLineCount(c.subscriber);
  const compiled: CompiledPlan[] = [];
  for (const [index, code] of c.planCodes.entries()) {
    const field = `input.planCodes.${index}`;
    const plan = await em.findOne(Plan, { code });
    if (!plan) throw notFound('Plan', code, field);
    const versions = await em.find(PlanVersion, { planId: plan.id, status: 'PUBLISHED' });
    const current = versionInForce(versions, c.now);
    if (!current) {
      // None in force: every published version (if any) takes effect later.
      const first = versions.flatMap((v) => (v.effectiveFrom ? [v.effectiveFrom] : [])).sort((a, b) => a.getTime() - b.getTime())[0];
      if (!(first ? c.mayReadScheduled : c.mayReadDrafts)) throw notFound('Plan', code, field);
      throw badInput(field, first ? `Plan ${code} has no published version in force yet: its first takes effect on ${first.toISOString()}` : `Plan ${code} has no published version in force`, 'PLAN_NOT_PUBLISHED');
    }
    compiled.push(await compileVersion(em, current, plan));
  }
  const { accountType: _ignored, ...facts } = c.subscriber ?? {};
  // An account's month is the span every plan's fees are counted over (a weekly fee four or five times); given records span their own days.
  const span = c.billingAccountId ? monthBounds(c.period, c.now) : undefined;
  const offers = await knownOffers(em);
  return guardRecords(() =>
    compareCompiled(
      toEvents(c.records),
      compiled,
      {
        ...(facts.lineCount != null ? { lineCount: facts.lineCount } : {}),
        ...(facts.spendInPeriod ? { spendInPeriod: facts.spendInPeriod } : {}),
        ...(facts.activeAddOns ? { activeAddOns: facts.activeAddOns } : {}),
      },
      { offers, ...(span ? { span } : {}) },
    ),
  );
}
