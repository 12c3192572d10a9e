// Bills many accounts at once: loads what each owes with a handful of set-based queries, composes
// each invoice in the pure domain, and writes invoices, lines and their events with multi-row
// inserts. Exactly one invoice per account and period, and never two live invoices over the same
// days: the account is locked while it is billed and a period starts where its live invoices end
// (`unbilledParts`); the partial unique index on (billing_account_id, period_start) backs it, a
// losing insert is simply skipped.
import { dec, DomainError, minorUnits, newId, type BillClosureCredit, type CustomerBillCreatedData, type RoundingMode } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { composeInvoice, type ComposeInput, type ComposedInvoice, type DiscountItem, type DiscountTarget, type SurchargeItem, type TaxRule } from '../domain/compose';
import type { Period } from '../domain/period';
import { cycleAt, prorateOverCycle } from '../domain/bill-cycle';
import { loadPlans, planRuleDiscounts, planRuleSurcharges, type CatalogClient } from './plans';
import { applyAccountCredit, lockAccountsCredit, planAccountCredit } from './credit';
import { adjustedInvoiceOf, LATE_FOR_A_DRAFT } from './adjusted-invoice';
import { givenBackBefore, takeDisputesCoveredByAdjustments } from './usage-record-given-back';
import { tellDisputesClosedAfterCommit, type TellDisputesClosed } from './disputes-closed-by-bill';
import type { TellCreditNotesIssued } from './credit-notes-told';
import type { TellCreditPaid } from './credit-paid-told';
import { enqueueEvents, holdEvents, rows, sql } from './sql';

export interface AccountRow {
  id: string;
  currency: string;
  jurisdiction: string;
  rounding_mode: string;
  timezone: string;
  bill_cycle_day: number;
  prev_bill_cycle_day?: number | null;
  prev_timezone?: string | null;
  bill_cycle_changes_at?: Date | null;
  /** The end of the account's final period (CLOSED): only late charges are billed after it. */
  closed_at?: Date | null;
  series: string;
  payment_terms_days: number;
  customer_name: string | null;
  payment_mode: string;
}

export interface BillTarget {
  account: AccountRow;
  period: Period;
  /**
   * The cycle period `period` is part of (a bill run's: its cycle's period, `cyclePeriod`): a part
   * ending with it (a bridge after a bill-cycle change, or trimmed to where the account's live
   * invoices end) has its recurring charges prorated over its days. Absent: `period` is a whole cycle.
   */
  reference?: Period | null;
}

export interface BillingDeps {
  catalog: CatalogClient | null;
  /** Signals the workflows of disputes a bill closed, once the bill commits (set by the running service; none: they look again at their next step). */
  tellDisputesClosed?: TellDisputesClosed | null;
  /** Signals dunning and disputes of credit notes a use case issued on its own (the closure credit), once they commit (set by the running service). */
  tellCreditNotesIssued?: TellCreditNotesIssued | null;
  /** Signals the dunning of invoices a bill run's credit paid, once the bill commits (set by the running service; credit-paid-told.ts). */
  tellCreditPaid?: TellCreditPaid | null;
  /**
   * How long one call billing a bill run's batch (or `billSetAsideAccounts`) goes on deciding accounts before it
   * commits what it decided and leaves the rest for the next call (bill-run.ts, default
   * DEFAULT_BILL_RUN_BATCH_BUDGET_MS); tests set it small.
   */
  billRunBatchBudgetMs?: number | null;
}

/** The charges and one-offs (ids) an account's composition input holds: exactly what its invoice bills. */
export interface BilledSources {
  chargeIds: string[];
  oneOffIds: string[];
  /** Rerate adjustments billed for less (or more) than their amount: what their usage record's disputes gave back already (review 19). */
  givenBack: [chargeId: string, part: string][];
}

/**
 * Everything each target account owes for its period, ready for `composeInvoice`. `sources`, when
 * given, receives the ids of the charges and one-offs each input holds: the rows to mark billed
 * (not "whatever is unbilled by then": a charge committed after these reads is on no line).
 */
export async function loadCompositionInputs(em: Em, targets: BillTarget[], deps: BillingDeps, now: Date, sources?: Map<string, BilledSources>): Promise<Map<string, ComposeInput>> {
  const ids = targets.map((t) => t.account.id);
  const starts = targets.map((t) => t.period.start);
  const ends = targets.map((t) => t.period.end);
  const periods = 'unnest(?::text[], ?::timestamptz[], ?::timestamptz[]) as p(account_id, period_start, period_end)';
  // One connection per transaction runs one query at a time: sequential on purpose.
  const segments = await rows<{ billing_account_id: string; subscription_id: string; line_id: string; msisdn: string | null; plan_code: string; plan_version_id: string; valid_from: Date; valid_to: Date | null }>(
      em,
      `select s.* from ${periods} join subscription_segment s on s.billing_account_id = p.account_id
        where s.valid_from < p.period_end and (s.valid_to is null or s.valid_to > p.period_start)
        order by s.billing_account_id, s.valid_from, s.subscription_id`,
      [ids, starts, ends],
    );
  // Every unbilled charge up to the period end is billed now. One that belongs to an earlier period
  // an invoice already billed (it arrived late, or usage says which invoice it adjusts) is grouped
  // apart, per adjusted invoice, and becomes an adjustment line: late usage is never lost. One whose
  // period's invoice is still a draft waits for that draft (adjusted-invoice.ts): an adjustment names
  // an invoice the customer has, never a draft that may yet be voided or replaced.
  const billable = `select * from (
      select c.*, ${adjustedInvoiceOf('p.period_start')} as adj_invoice_id
        from ${periods} join unbilled_charge c on c.billing_account_id = p.account_id
       where c.invoice_id is null and c.occurred_at < p.period_end) x
    where not ${LATE_FOR_A_DRAFT}`;
  const usage = await rows<{ billing_account_id: string; usage_type: string; zone: string | null; unit: string; adj_invoice_id: string | null; quantity: string; amount: string; n: string; charge_ids: string[] }>(
      em,
      `select x.billing_account_id, x.usage_type, x.zone, x.unit, x.adj_invoice_id, sum(x.units) as quantity, sum(x.amount) as amount, count(*) as n,
              array_agg(x.charge_id) as charge_ids
         from (${billable}) x
        group by x.billing_account_id, x.usage_type, x.zone, x.unit, x.adj_invoice_id`,
      [ids, starts, ends],
    );
  // A rerate adjustment of a usage record is billed less what the record's accepted disputes' credit
  // notes gave back already (usage-record-given-back.ts; review 19): its group's amount with it.
  const recordAdjustments = (await rows<{ charge_id: string }>(
      em,
      `select x.charge_id from (${billable}) x where x.usage_record_id is not null`,
      [ids, starts, ends],
    )).map((r) => r.charge_id);
  const givenBack = await givenBackBefore(em, recordAdjustments);
  if (givenBack.size > 0) {
    for (const u of usage) {
      for (const id of u.charge_ids) {
        const part = givenBack.get(id);
        if (part) u.amount = dec(String(u.amount)).plus(part).toFixed();
      }
    }
  }
  const adjustedIds = [...new Set(usage.map((u) => u.adj_invoice_id).filter((v): v is string => Boolean(v)))];
  const adjusted = new Map(
    (adjustedIds.length ? await rows<{ id: string; number: string | null; period_start: Date; period_end: Date; timezone: string }>(em, 'select id, number, period_start, period_end, timezone from invoice where id = any(?::text[])', [adjustedIds]) : []).map((i) => [i.id, i]),
  );
  const oneOffs = await rows<{ id: string; billing_account_id: string; code: string; description: string; amount: string; tax_category: string; line_id: string | null; refunds_charge_id: string | null }>(
      em,
      `select o.* from ${periods} join one_off_charge o on o.billing_account_id = p.account_id where o.invoice_id is null and o.waived_at is null and o.occurred_at < p.period_end`,
      [ids, starts, ends],
    );
  const discounts = await rows<{ billing_account_id: string; code: string; description: string; percent: string | null; amount: string | null; target: string | null; valid_from: Date; valid_to: Date | null }>(
      em,
      // In a stable order: compose settles which of two fixed discounts on one target is capped by it.
      `select d.* from ${periods} join discount d on d.billing_account_id = p.account_id where d.valid_from < p.period_end and (d.valid_to is null or d.valid_to > p.period_start)
        order by d.billing_account_id, d.valid_from, d.code`,
      [ids, starts, ends],
    );
  const taxRules = await rows<{ jurisdiction: string; category: string; rate: string; inclusive: boolean; name: string }>(em, 'select * from tax_rule');
  // A plan version nobody knows refuses every account whose period it bills: the refusal names them all, so a bill
  // run sets them aside at once instead of looking for them an attempt at a time (bill-run-set-aside.ts).
  const plans = await loadPlans(em, [...new Set(segments.map((s) => s.plan_version_id))], deps.catalog, now).catch((err: unknown) => {
    const unknown = err instanceof DomainError && err.code === 'PLAN_VERSION_UNKNOWN' ? err.details.planVersionId : undefined;
    if (typeof unknown === 'string') Object.defineProperty(err, REFUSED_ACCOUNTS, { value: [...new Set(segments.filter((s) => s.plan_version_id === unknown).map((s) => s.billing_account_id))] });
    throw err;
  });
  const rules: TaxRule[] = taxRules.map((r) => ({ jurisdiction: r.jurisdiction, category: r.category, rate: dec(String(r.rate)).toFixed(), inclusive: r.inclusive, name: r.name }));

  const inputs = new Map<string, ComposeInput>();
  for (const t of targets) {
    sources?.set(t.account.id, { chargeIds: [], oneOffIds: [], givenBack: [] });
    inputs.set(t.account.id, {
      currency: t.account.currency,
      jurisdiction: t.account.jurisdiction,
      roundingMode: t.account.rounding_mode as RoundingMode,
      period: t.period,
      // The zone of the cycle the period is in: the last period before a change of time zone is still
      // the old zone's (its bounds are its midnights), so are its days, though the account names the new zone.
      timeZone: cycleAt(t.account, t.period.start).timeZone,
      recurring: [],
      usage: [],
      oneOffs: [],
      discounts: [],
      surcharges: [],
      taxRules: rules,
    });
  }
  // Usage is taxed in the category of the account's earliest plan segment in the period (segments are in time order).
  const usageCategory = new Map<string, string>();
  for (const s of segments) {
    const plan = plans.get(s.plan_version_id)!;
    const input = inputs.get(s.billing_account_id)!;
    if (!usageCategory.has(s.billing_account_id)) usageCategory.set(s.billing_account_id, plan.taxCategory);
    if (!plan.recurringFee) continue;
    input.recurring.push({
      subscriptionId: s.subscription_id,
      lineId: s.line_id,
      msisdn: s.msisdn,
      planCode: s.plan_code,
      planVersionId: s.plan_version_id,
      planName: plan.name,
      fee: plan.recurringFee.amount,
      feePeriod: plan.recurringFee.period,
      proration: plan.recurringFee.proration,
      taxCategory: plan.taxCategory,
      from: new Date(s.valid_from),
      to: s.valid_to ? new Date(s.valid_to) : null,
      shared: (plan.maxLines ?? 1) > 1,
    });
  }
  for (const u of usage) {
    const src = sources?.get(u.billing_account_id);
    if (src) {
      for (const id of u.charge_ids) {
        src.chargeIds.push(id);
        const part = givenBack.get(id);
        if (part) src.givenBack.push([id, part.toFixed()]);
      }
    }
    inputs.get(u.billing_account_id)!.usage.push({
      usageType: u.usage_type,
      zone: u.zone,
      unit: u.unit,
      quantity: dec(String(u.quantity)).toFixed(),
      amount: dec(String(u.amount)).toFixed(),
      count: Number(u.n),
      taxCategory: usageCategory.get(u.billing_account_id) ?? 'TELECOM_STANDARD',
      adjusts: u.adj_invoice_id
        ? (() => {
            const i = adjusted.get(u.adj_invoice_id!);
            return { invoiceId: u.adj_invoice_id, invoiceNumber: i?.number ?? null, periodStart: i ? new Date(i.period_start) : null, periodEnd: i ? new Date(i.period_end) : null, timeZone: i?.timezone ?? null };
          })()
        : null,
    });
  }
  for (const o of oneOffs) {
    sources?.get(o.billing_account_id)!.oneOffIds.push(o.id);
    inputs.get(o.billing_account_id)!.oneOffs.push({ id: o.id, code: o.code, description: o.description, amount: dec(String(o.amount)).toFixed(), taxCategory: o.tax_category, lineId: o.line_id, refunds: o.refunds_charge_id });
  }
  for (const d of discounts) {
    inputs.get(d.billing_account_id)!.discounts.push({
      code: d.code,
      description: d.description,
      percent: d.percent == null ? null : dec(String(d.percent)).toFixed(),
      amount: d.amount == null ? null : dec(String(d.amount)).toFixed(),
      target: (d.target ?? 'RECURRING') as DiscountTarget,
      // Valid for part of the period: compose prorates it to those days.
      validFrom: new Date(d.valid_from),
      validTo: d.valid_to ? new Date(d.valid_to) : null,
    });
  }
  // Plan-rule discounts: the invoice-level discount rules of the plans the account was on, each for
  // the days that plan was held (its segments, any line of the account: compose counts them by the
  // day rule, like a coupon's validity) and, on RECURRING, off the fees of the segments on the plan
  // versions carrying the rule only (not a line on another version of the plan, with its own rule).
  const segmentsOfAccount = new Map<string, Map<string, { from: Date; to: Date | null }[]>>();
  const linesOfAccount = new Map<string, Set<string>>();
  const planCodeOf = new Map<string, string>(); // as the recurring fees name it
  for (const s of segments) {
    planCodeOf.set(s.plan_version_id, s.plan_code);
    const byVersion = segmentsOfAccount.get(s.billing_account_id) ?? new Map<string, { from: Date; to: Date | null }[]>();
    segmentsOfAccount.set(s.billing_account_id, byVersion);
    byVersion.set(s.plan_version_id, [...(byVersion.get(s.plan_version_id) ?? []), { from: new Date(s.valid_from), to: s.valid_to ? new Date(s.valid_to) : null }]);
    linesOfAccount.set(s.billing_account_id, (linesOfAccount.get(s.billing_account_id) ?? new Set()).add(s.line_id));
  }
  for (const [accountId, byVersion] of segmentsOfAccount) {
    const found: DiscountItem[] = [];
    for (const v of [...byVersion.keys()].sort()) {
      for (const d of planRuleDiscounts(plans.get(v)!, { lineCount: linesOfAccount.get(accountId)!.size })) {
        // Versions of one plan with the same rule: one discount over the days of all of them.
        const same = found.find((f) => f.code === d.code && f.percent === d.percent && f.amount === d.amount && f.target === d.target);
        if (same) {
          same.heldDuring!.push(...byVersion.get(v)!);
          same.planVersionIds?.push(v);
        } else found.push({ ...d, heldDuring: [...byVersion.get(v)!], planCode: d.target === 'RECURRING' ? planCodeOf.get(v)! : null, planVersionIds: d.target === 'RECURRING' ? [v] : null });
      }
    }
    // Plan-rule surcharges (scope INVOICE), likewise for the days their plan was held, a percent of
    // the charges of the versions carrying it only (`planVersionIds`: their segments' fees, their
    // lines' share of usage and one-offs). The same rule (name, percent or amount) on several of the
    // account's plans or versions is one surcharge over the days and charges of all of them: an
    // operator who puts "regulatory fee 2 %" on every plan means 2 % of the invoice, not 4 % for an
    // account with two lines on two plans; 2 % on one plan and 3 % on another are two surcharges,
    // each of its own plan's charges.
    const fees: (SurchargeItem & { rule: string })[] = [];
    for (const v of [...byVersion.keys()].sort()) {
      for (const f of planRuleSurcharges(plans.get(v)!, { lineCount: linesOfAccount.get(accountId)!.size })) {
        const same = fees.find((x) => x.rule === f.rule && x.percent === f.percent && x.amount === f.amount);
        if (same) {
          same.heldDuring!.push(...byVersion.get(v)!);
          same.planVersionIds!.push(v);
        } else fees.push({ ...f, heldDuring: [...byVersion.get(v)!], planVersionIds: [v] });
      }
    }
    const input = inputs.get(accountId)!;
    input.discounts.push(...found);
    input.surcharges = fees.map(({ rule: _rule, ...f }) => f);
  }
  // Usage and one-offs (undated) lie on the days the account held any plan, fee or not; each span
  // says its line and plan version (whose share of them a plan's percent surcharge takes).
  for (const s of segments) {
    const input = inputs.get(s.billing_account_id)!;
    (input.planHeld ??= []).push({ from: new Date(s.valid_from), to: s.valid_to ? new Date(s.valid_to) : null, lineId: s.line_id, planVersionId: s.plan_version_id });
  }
  // After an account's final period (closed) only charges that arrived late are billed: no fee, no
  // discount or surcharge of a plan it no longer has (its subscriptions' ends may not be known yet).
  for (const t of targets) {
    if (!isAfterClosure(t)) continue;
    Object.assign(inputs.get(t.account.id)!, { recurring: [], discounts: [], surcharges: [], planHeld: null });
  }
  return inputs;
}

/**
 * The part of each target's period no live invoice has billed yet, the accounts locked (in id
 * order, FOR NO KEY UPDATE: charges and segments still reference them meanwhile) until the caller
 * commits, so two billings of one account never interleave. An account's billed periods never
 * overlap: a period that a live invoice already bills into starts where the latest such invoice
 * ends (the rest of the days, contiguous: no gap either), and one billed to its end is skipped.
 * Days of a target before a live invoice's start (the bill-cycle workflow's first period starts at
 * the account's start, a bill run's at the cycle boundary) are not billed: the account had no
 * service before the period that invoice bills.
 */
async function unbilledParts(em: Em, targets: BillTarget[]): Promise<BillTarget[]> {
  if (targets.length === 0) return [];
  await lockAccountsForBilling(em, targets.map((t) => t.account.id));
  const billedTo = new Map(
    (
      await rows<{ account_id: string; billed_to: Date }>(
        em,
        `select p.account_id, max(i.period_end) as billed_to
           from unnest(?::text[], ?::timestamptz[], ?::timestamptz[]) as p(account_id, period_start, period_end)
           join invoice i on i.billing_account_id = p.account_id and i.kind = 'PERIOD' and i.voided_at is null
                         and i.period_start < p.period_end and i.period_end > p.period_start - interval '1 day'
          group by p.account_id`,
        [targets.map((t) => t.account.id), targets.map((t) => t.period.start), targets.map((t) => t.period.end)],
      )
    ).map((r) => [r.account_id, new Date(r.billed_to)]),
  );
  const out: BillTarget[] = [];
  for (const t of targets) {
    const to = billedTo.get(t.account.id);
    // Billed up to less than a day before the period (a boundary moved by a change of time zone): from there on.
    if (!to || (to <= t.period.start && t.period.start.getTime() - to.getTime() >= DAY_MS)) out.push(t);
    else if (to < t.period.end) out.push({ ...t, period: { start: to, end: t.period.end } });
  }
  return out;
}

const DAY_MS = 86_400_000;

/**
 * The accounts' rows, in id order, FOR NO KEY UPDATE (charges and segments still reference them
 * meanwhile): the first lock of whatever composes an account's invoice and of whatever changes what
 * it bills while it may be composed (a waiver of one of its one-offs), before the account's credit
 * lock and any charge's row. The one that waits then reads what the other committed: a one-off is
 * either left out as waived or billed and then credited by its waiver, never billed past a waiver
 * that did not credit it. The first lock of lock-order.ts.
 */
export async function lockAccountsForBilling(em: Em, accountIds: string[]): Promise<void> {
  await rows(em, 'select id from billing_account where id = any(?::text[]) order by id for no key update', [[...new Set(accountIds)].sort()]);
}

const REFUSED_ACCOUNTS = Symbol('refusedAccounts');

/**
 * The accounts a refusal of `billAccounts` names as refused (every one of those it was billing that the
 * cause hits: a plan version unknown, all the accounts billing it), when it can tell; null when it cannot
 * (a value PostgreSQL refused in a statement over many accounts). Not in the error's details: those reach
 * GraphQL's extensions.
 */
export function accountsRefused(err: unknown): string[] | null {
  const ids = err != null && typeof err === 'object' ? (err as { [REFUSED_ACCOUNTS]?: unknown })[REFUSED_ACCOUNTS] : undefined;
  return Array.isArray(ids) ? (ids as string[]) : null;
}

/** A period after the account's final one (the account was closed before it starts). */
const isAfterClosure = (t: BillTarget): boolean => t.account.closed_at != null && t.period.start >= new Date(t.account.closed_at);

export interface BillOptions {
  now: Date;
  billRunId?: string | null;
  /** Validate (number) and send the invoices right away, as a bill run does. */
  autoIssue: boolean;
}

export interface BillResult {
  /** Invoices this call created (accounts already billed for the period are skipped). */
  created: { invoiceId: string; billingAccountId: string }[];
  /** Disputes of usage records a billed rerate correction closed (billAccounts queues their signals itself, after the commit). */
  disputesClosed?: string[];
}

export async function billAccounts(em: Em, given: BillTarget[], deps: BillingDeps, opts: BillOptions): Promise<BillResult> {
  const unbilled = await unbilledParts(em, given);
  if (unbilled.length === 0) return { created: [] };
  // The credit lock of each account with a rerate adjustment of a usage record to bill, before reading
  // what the record's disputes gave back: a dispute decided meanwhile waits, or is seen (review 19).
  const withRecordAdjustments = await rows<{ billing_account_id: string }>(
    em,
    'select distinct billing_account_id from unbilled_charge where billing_account_id = any(?::text[]) and invoice_id is null and usage_record_id is not null order by billing_account_id',
    [[...new Set(unbilled.map((t) => t.account.id))]],
  );
  await lockAccountsCredit(em, withRecordAdjustments.map((a) => a.billing_account_id));
  const sources = new Map<string, BilledSources>();
  const loaded = await loadCompositionInputs(em, unbilled, deps, opts.now, sources);
  // A closed account is billed after its final period only for late charges: none, no invoice.
  const targets = unbilled.filter((t) => !isAfterClosure(t) || sources.get(t.account.id)!.chargeIds.length + sources.get(t.account.id)!.oneOffIds.length > 0);
  if (targets.length === 0) return { created: [] };
  const inputs = loaded;
  const composed = new Map<string, { target: BillTarget; invoice: ComposedInvoice; id: string }>();
  // A part of a cycle period (a bridge after a bill-cycle change): its recurring charges prorated over the cycle's days.
  for (const t of targets) composed.set(t.account.id, { target: t, invoice: composeInvoice(t.reference ? prorateOverCycle(inputs.get(t.account.id)!, t.reference) : inputs.get(t.account.id)!), id: newId('invoice') });

  const k = sql(em);
  const invoiceRows = [...composed.values()].map(({ target, invoice, id }) => ({
    id,
    billing_account_id: target.account.id,
    kind: 'PERIOD',
    number: null,
    series: target.account.series,
    state: 'NEW',
    period_start: target.period.start,
    period_end: target.period.end,
    currency: invoice.currency,
    net_total: invoice.netTotal,
    tax_total: invoice.taxTotal,
    total: invoice.grossTotal,
    rounding_mode: target.account.rounding_mode,
    timezone: inputs.get(target.account.id)!.timeZone,
    bill_run_id: opts.billRunId ?? null,
    tax_summary: JSON.stringify(invoice.taxSummary),
    created_at: opts.now,
    updated_at: opts.now,
  }));
  const created: { id: string; billing_account_id: string }[] = [];
  for (let i = 0; i < invoiceRows.length; i += 1000) {
    const result = await k('invoice')
      .insert(invoiceRows.slice(i, i + 1000))
      .onConflict(k.raw(`(billing_account_id, period_start) where voided_at is null and kind = 'PERIOD'`))
      .ignore()
      .returning(['id', 'billing_account_id']);
    created.push(...(result as { id: string; billing_account_id: string }[]));
  }
  if (created.length === 0) return { created: [] };

  const lineRows = created.flatMap(({ id, billing_account_id }) =>
    composed.get(billing_account_id)!.invoice.lines.map((l) => ({
      id: newId('invoiceLine'),
      invoice_id: id,
      position: l.position,
      kind: l.kind,
      description: l.description.slice(0, 300),
      line_id: l.lineId,
      usage_type: l.usageType,
      zone: l.zone,
      quantity: l.quantity,
      unit: l.unit,
      unit_price: l.unitPrice,
      tax_category: l.taxCategory,
      tax_rate: l.taxRate,
      tax_inclusive: l.taxInclusive,
      net_amount: l.netAmount,
      tax_amount: l.taxAmount,
      gross_amount: l.grossAmount,
      source_ref: l.sourceRef,
    })),
  );
  for (let i = 0; i < lineRows.length; i += 2000) await k('invoice_line').insert(lineRows.slice(i, i + 2000));

  // Mark what was billed, so the next period does not bill it again (and a void releases it): the
  // very charges and one-offs composed onto the invoice's lines, by id. One recorded since they were
  // read (READ COMMITTED) stays unbilled: the next invoice bills it (an adjustment line when its day
  // lies in a period already billed).
  const invIds = created.map((c) => c.id);
  const chargeIds: string[] = [];
  const chargeInv: string[] = [];
  const oneOffIds: string[] = [];
  const oneOffInv: string[] = [];
  for (const c of created) {
    const src = sources.get(c.billing_account_id)!;
    // Loops, not push(...ids): an account may have more charges than a call takes arguments.
    for (const id of src.chargeIds) {
      chargeIds.push(id);
      chargeInv.push(c.id);
    }
    for (const id of src.oneOffIds) {
      oneOffIds.push(id);
      oneOffInv.push(c.id);
    }
  }
  const billed = 'unnest(?::text[], ?::text[]) as p(id, invoice_id)';
  for (let i = 0; i < chargeIds.length; i += 5000) {
    await k.raw(`update unbilled_charge c set invoice_id = p.invoice_id from ${billed} where c.charge_id = p.id and c.invoice_id is null`, [chargeIds.slice(i, i + 5000), chargeInv.slice(i, i + 5000)]);
  }
  // What each rerate adjustment of a usage record was billed for less (kept: what the record has
  // been given back counts the adjustment as billed); reset for one billed again after a void.
  const recordCharges: string[] = [];
  const givenBackIds: string[] = [];
  const givenBackParts: string[] = [];
  for (const c of created) {
    for (const [id, part] of sources.get(c.billing_account_id)!.givenBack) {
      givenBackIds.push(id);
      givenBackParts.push(part);
    }
  }
  if (withRecordAdjustments.length > 0) {
    const accounts = new Set(withRecordAdjustments.map((a) => a.billing_account_id));
    for (const c of created) if (accounts.has(c.billing_account_id)) recordCharges.push(...sources.get(c.billing_account_id)!.chargeIds);
    await k.raw(
      `update unbilled_charge c set given_back_before = coalesce(p.part, 0)
         from unnest(?::text[]) as ids(id) left join unnest(?::text[], ?::numeric[]) as p(id, part) on p.id = ids.id
        where c.charge_id = ids.id and c.usage_record_id is not null`,
      [recordCharges, givenBackIds, givenBackParts],
    );
  }
  if (oneOffIds.length) await k.raw(`update one_off_charge o set invoice_id = p.invoice_id from ${billed} where o.id = p.id and o.invoice_id is null`, [oneOffIds, oneOffInv]);

  if (opts.autoIssue) await issueInvoices(em, invIds, opts.now);
  // A billed correction that gives a disputed record's money back closes or reduces its open disputes.
  const disputesClosed = await takeDisputesCoveredByAdjustments(em, recordCharges, opts.now);
  // Their workflows and dunning are told here, for every path that bills (after the commit).
  tellDisputesClosedAfterCommit(em, deps, disputesClosed);
  return { disputesClosed, created: created.map((c) => ({ invoiceId: c.id, billingAccountId: c.billing_account_id })) };
}

/** Issues credit notes on just-numbered invoices (issueInvoices); answers, per invoice credited, the note its bill tells. */
export type CreditOnIssue = (invoiceIds: string[]) => Promise<Map<string, BillClosureCredit>>;

/**
 * NEW → VALIDATED → SENT for many invoices: gap-free numbers per series from a counter row locked
 * in this transaction (a rollback returns the numbers), due dates from the account's terms, and a
 * CustomerBillCreateEvent each, with the totals the ledger needs to move unbilled → invoiced.
 * `creditOnIssue`: credit notes to issue on the numbered invoices before they are announced (the closure credit
 * of a draft issued past its account's closure), so each bill says what is due once they are applied.
 */
export async function issueInvoices(em: Em, invoiceIds: string[], now: Date, creditOnIssue?: CreditOnIssue): Promise<void> {
  if (invoiceIds.length === 0) return;
  const k = sql(em);
  const invoices = await rows<{ id: string; billing_account_id: string; series: string; period_start: Date; period_end: Date; currency: string; net_total: string; tax_total: string; total: string; payment_terms_days: number; usage_total: string | null; usage_records: string | null }>(
    em,
    `select i.id, i.billing_account_id, i.series, i.period_start, i.period_end, i.currency, i.net_total, i.tax_total, i.total, a.payment_terms_days,
            u.usage_total, u.usage_records
       from invoice i join billing_account a on a.id = i.billing_account_id
       left join lateral (select sum(c.amount) as usage_total, count(*) as usage_records from unbilled_charge c
                           where c.billing_account_id = i.billing_account_id and c.invoice_id = i.id) u on true
      where i.id = any(?::text[]) and i.state = 'NEW' and i.voided_at is null order by i.billing_account_id`,
    [invoiceIds],
  );
  // The credit lock of each account issued (lock 2 of lock-order.ts: after the account's row, before the series
  // counter and the invoices' rows), in id order, held until commit: credit another transaction is bringing
  // (an overpayment written, not yet committed) is waited for and then seen by the read of credit below. Taken only
  // for the accounts that read showed with credit, such credit was missed, and its own credit run had not seen these
  // invoices (not committed): the invoice stayed open beside the credit. Row locks (lockAccountsCredit): a batch
  // holds one per account.
  await lockAccountsCredit(em, invoices.map((i) => i.billing_account_id));
  const bySeries = new Map<string, typeof invoices>();
  for (const inv of invoices) bySeries.set(inv.series, [...(bySeries.get(inv.series) ?? []), inv]);
  const numbers: string[] = [];
  const ids: string[] = [];
  const states: string[] = [];
  const dues: Date[] = [];
  for (const [series, list] of [...bySeries.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    // The INVOICE counter of the series: credit notes (CN) and receipts (RCT) count apart even when an account's series is named alike.
    await k.raw(`insert into invoice_series (document_type, series, last_number) values ('INVOICE', ?, 0) on conflict (document_type, series) do nothing`, [series]);
    const [{ last_number }] = (await k.raw(`select last_number from invoice_series where document_type = 'INVOICE' and series = ? for update`, [series])).rows;
    let n = Number(last_number);
    for (const inv of list) {
      n += 1;
      ids.push(inv.id);
      numbers.push(`${series}-${String(n).padStart(8, '0')}`);
      states.push(dec(String(inv.total)).lte(0) ? 'SETTLED' : 'SENT');
      dues.push(new Date(now.getTime() + inv.payment_terms_days * 86_400_000));
    }
    await k.raw(`update invoice_series set last_number = ? where document_type = 'INVOICE' and series = ?`, [n, series]);
  }
  // The customer as the account names them now, kept: an issued invoice is a legal document, its document prints
  // them as issued whatever the account is renamed to later (a draft's document still follows the account).
  await k.raw(
    `update invoice i set number = p.number, payment_reference = p.number, state = p.state, issued_at = ?, due_date = p.due, updated_at = ?,
           customer_name = (select a.customer_name from billing_account a where a.id = i.billing_account_id)
       from unnest(?::text[], ?::text[], ?::text[], ?::timestamptz[]) as p(id, number, state, due) where i.id = p.id`,
    [now, now, ids, numbers, states, dues],
  );
  const numberOf = new Map(ids.map((id, i) => [id, numbers[i]!]));
  const stateOf = new Map(ids.map((id, i) => [id, states[i]!]));
  const dueOf = new Map(ids.map((id, i) => [id, dues[i]!]));
  // Before account credit is planned and the bills are written: the credit pays only what such a note leaves, and
  // the bill tells the note (its own event says so: subscribers sends one message). The notes' events (the note,
  // the invoice's state change it brings) are held and written after the bills': a partner or subscribers never
  // sees a note, or a state change, of a bill it has not seen. The bill says the state it was issued in (as when
  // account credit pays it below): the state change the note brings follows it.
  const onIssue = creditOnIssue && ids.length > 0 ? await holdEvents(em, () => creditOnIssue(ids)) : null;
  const closureOf = onIssue?.result ?? new Map<string, BillClosureCredit>();

  // An invoice whose credits exceed its charges (a rerate credit on the last invoice of a
  // terminated line) asks nothing and is SETTLED: what it owes the customer (−total) is kept as
  // account credit, which pays what the account owes (below: older open invoices too).
  const negative = invoices.filter((i) => dec(String(i.total)).lt(0));
  if (negative.length > 0) {
    await k('account_credit_entry').insert(
      negative.map((inv) => ({
        id: `crd_${inv.id}`.slice(0, 40),
        billing_account_id: inv.billing_account_id,
        amount: dec(String(inv.total)).negated().toFixed(minorUnits(inv.currency)),
        currency: inv.currency,
        source: 'NEGATIVE_INVOICE',
        source_id: inv.id,
        created_at: now,
      })),
    );
  }

  // Credit the account keeps (overpayments, credit notes, the negative invoices above) pays what it
  // owes: these invoices, and older ones a negative invoice's credit now reaches, oldest due first.
  // Planned before the bill events are written (and applied after them, so each bill is announced
  // before the credit's payment on it): a bill says what the credit paid of it and what is left to pay.
  if (invoices.length === 0) return;
  const credits = await rows<{ billing_account_id: string; currency: string }>(
    em,
    'select billing_account_id, currency from account_credit_entry where billing_account_id = any(?::text[]) group by billing_account_id, currency having sum(amount) > 0 order by billing_account_id, currency',
    [[...new Set(invoices.map((i) => i.billing_account_id))]],
  );
  const creditOf = new Map<string, string>();
  for (const c of credits) for (const a of (await planAccountCredit(em, c.billing_account_id, c.currency)).applications) creditOf.set(a.invoice.id, a.applied);

  await enqueueEvents(
    em,
    'customerBillCreated',
    now,
    invoices.map((inv) => {
      const scale = minorUnits(inv.currency);
      const total = dec(String(inv.total));
      const credit = dec(creditOf.get(inv.id) ?? '0');
      const closure = closureOf.get(inv.id) ?? null;
      const left = total.minus(closure?.amount ?? 0).minus(credit);
      return {
        subject: inv.id,
        key: [inv.id, 'issued'],
        data: {
          invoiceId: inv.id,
          number: numberOf.get(inv.id)!,
          billingAccountId: inv.billing_account_id,
          state: stateOf.get(inv.id)!,
          periodStart: new Date(inv.period_start).toISOString(),
          periodEnd: new Date(inv.period_end).toISOString(),
          currency: inv.currency,
          netTotal: dec(String(inv.net_total)).toFixed(),
          taxTotal: dec(String(inv.tax_total)).toFixed(),
          total: total.toFixed(),
          /** Unrounded sum of the POSTPAID usage charges this invoice bills (unbilled → invoiced). */
          usageAmount: dec(String(inv.usage_total ?? '0')).toFixed(),
          usageRecords: Number(inv.usage_records ?? 0),
          // What subscribers tells the customer (BILL_ISSUED): when it is due and the reference a transfer pays it by (= number).
          dueDate: dueOf.get(inv.id)!.toISOString(),
          paymentReference: numberOf.get(inv.id)!,
          // …and what the account's credit pays of it in this transaction, and what is then left to pay.
          creditApplied: credit.toFixed(scale),
          amountDue: (left.gt(0) ? left : dec('0')).toFixed(scale),
          closureCredit: closure,
        } satisfies CustomerBillCreatedData,
      };
    }),
  );
  // The notes issued with these bills, after them (and before the account credit's payments on what they leave).
  await onIssue?.write();

  for (const c of credits) await applyAccountCredit(em, c.billing_account_id, c.currency, now);
}
