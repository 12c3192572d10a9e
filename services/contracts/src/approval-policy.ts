// Approval limits ("four eyes"): how much money an AGENT may move alone, per currency. Above it a
// credit note, a refund, an accepted dispute's credit (invoicing) or a balance adjustment (wallets)
// becomes a pending approval request, which a supervisor who is not the requester approves (the
// operation then runs once, as it was asked) or rejects. One definition for both services.
//
// Supervisors: ADMIN, or an AGENT whose token carries the scope `billing:approve` (Caller.scopes,
// the JWT's space-separated `scope` claim). Supervisors and SYSTEM (Ledgerline's own workflows: a
// dispute decided at its SLA deadline) act at once at any amount; only a plain AGENT is limited.
// Exact decimals throughout: a limit is a decimal string, compared with Decimal.
import { isCurrencyCode, minorUnitsOf } from './currencies';
import type { Caller } from './caller';
import { Decimal } from './money';
import { DomainError } from './errors';

/** The scope that makes an AGENT a supervisor (approves others' requests, not limited). */
export const APPROVAL_SCOPE = 'billing:approve';
/** The setting that overrides the limits: a JSON object of currency → decimal string, `*` for every other currency. */
export const APPROVAL_LIMITS_SETTING = 'LEDGERLINE_APPROVAL_LIMITS';

/** Limits per currency (ISO 4217 code → decimal string) and `*` for any currency not named. */
export type ApprovalLimits = Readonly<Record<string, string>>;

/**
 * EUR/USD/CHF 50.00, GBP 40.00, JPY 7500; every other currency `*` = 0: an agent's refund or credit
 * in a currency nobody set a limit for always waits for a supervisor (a single number cannot be a
 * sensible limit in both IDR and KWD).
 */
export const DEFAULT_APPROVAL_LIMITS: ApprovalLimits = Object.freeze({ EUR: '50.00', USD: '50.00', GBP: '40.00', CHF: '50.00', JPY: '7500', '*': '0' });

/** Problems with a limits object, each naming the key (empty: usable). */
export function approvalLimitsProblems(limits: unknown): string[] {
  if (limits === null || typeof limits !== 'object' || Array.isArray(limits)) return [`must be a JSON object of currency → amount, e.g. {"EUR":"100.00"} (got ${JSON.stringify(limits)})`];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(limits as Record<string, unknown>)) {
    if (key !== '*' && !isCurrencyCode(key)) {
      problems.push(`"${key}" is not a currency we bill in (ISO 4217, e.g. "EUR"; "*" for every other currency)`);
      continue;
    }
    if (typeof value !== 'string' || !/^\d+(\.\d+)?$/.test(value)) {
      problems.push(`"${key}" must be a decimal string of 0 or more, e.g. "50.00" (got ${JSON.stringify(value)})`);
      continue;
    }
    const digits = key === '*' ? undefined : minorUnitsOf(key);
    if (digits !== undefined && new Decimal(value).decimalPlaces() > digits) problems.push(`"${key}" has more decimals than ${key}'s ${digits} minor-unit digits (got "${value}")`);
  }
  return problems;
}

/** The limits: DEFAULT_APPROVAL_LIMITS with LEDGERLINE_APPROVAL_LIMITS over them. A bad setting throws, naming it (start-up stops). */
export function approvalLimitsFromEnv(env: Record<string, string | undefined> = process.env): ApprovalLimits {
  return limitsFromEnv(APPROVAL_LIMITS_SETTING, DEFAULT_APPROVAL_LIMITS, env);
}

function limitsFromEnv(setting: string, defaults: ApprovalLimits, env: Record<string, string | undefined>): ApprovalLimits {
  const raw = env[setting];
  if (raw === undefined || raw.trim() === '') return defaults;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${setting} is not JSON: ${raw}`);
  }
  const problems = approvalLimitsProblems(parsed);
  if (problems.length > 0) throw new Error(`${setting} is not valid: ${problems.join('; ')}`);
  return Object.freeze({ ...defaults, ...(parsed as Record<string, string>) });
}

/** The limit of one currency (its own, else `*`, else 0). */
export function approvalLimit(limits: ApprovalLimits, currency: string): Decimal {
  return new Decimal(limits[currency] ?? limits['*'] ?? '0');
}

/** ADMIN, or an AGENT holding `billing:approve`: approves others' requests and acts at once. */
export function isApprover(caller: Caller): boolean {
  return caller.role === 'ADMIN' || (caller.role === 'AGENT' && caller.scopes.includes(APPROVAL_SCOPE));
}

/** Whether moving `amount` (its size: a debit counts as much as a credit) needs a supervisor's approval when `caller` asks. */
export function needsApproval(limits: ApprovalLimits, caller: Caller, amount: Decimal, currency: string): boolean {
  if (caller.role !== 'AGENT' || isApprover(caller)) return false;
  return amount.abs().gt(approvalLimit(limits, currency));
}

// The daily limit: the per-operation limit alone lets an agent split 200 EUR into four 50 EUR
// credits. What one AGENT moved alone (without approval) in the last 24 hours (rolling, by the
// service's clock), per currency and per service, plus the operation at hand, must stay within it;
// past it the operation becomes an approval request like one above the per-operation limit. Each
// service sums its own operations' rows under a transaction lock on (agent, currency), so two
// concurrent operations of one agent cannot both pass on the same sum.

/** The setting that overrides the daily limits: the same JSON format as LEDGERLINE_APPROVAL_LIMITS. */
export const APPROVAL_DAILY_LIMITS_SETTING = 'LEDGERLINE_APPROVAL_DAILY_LIMITS';

/** Four times the per-operation defaults: a normal day's goodwill, not a split-up large one. `*` = 0 as there. */
export const DEFAULT_APPROVAL_DAILY_LIMITS: ApprovalLimits = Object.freeze({ EUR: '200.00', USD: '200.00', GBP: '160.00', CHF: '200.00', JPY: '30000', '*': '0' });

/** The rolling window the daily limit counts over. */
export const APPROVAL_DAILY_WINDOW_MS = 24 * 3_600_000;

/** The daily limits: DEFAULT_APPROVAL_DAILY_LIMITS with LEDGERLINE_APPROVAL_DAILY_LIMITS over them. A bad setting throws, naming it (start-up stops). */
export function approvalDailyLimitsFromEnv(env: Record<string, string | undefined> = process.env): ApprovalLimits {
  return limitsFromEnv(APPROVAL_DAILY_LIMITS_SETTING, DEFAULT_APPROVAL_DAILY_LIMITS, env);
}

/** Where the daily window of an operation at `now` starts (exclusive). */
export const approvalDailyWindowStart = (now: Date): Date => new Date(now.getTime() - APPROVAL_DAILY_WINDOW_MS);

/**
 * Why moving `amount` now needs approval although it is within the per-operation limit: `movedAlone`
 * (what the agent moved alone in the window) plus it passes the daily limit. Null: within it.
 */
export function dailyLimitExceeded(daily: ApprovalLimits, movedAlone: Decimal, amount: Decimal, currency: string): string | null {
  const limit = approvalLimit(daily, currency);
  const after = movedAlone.plus(amount.abs());
  if (!after.gt(limit)) return null;
  return `Over the daily limit: ${movedAlone.toFixed()} ${currency} moved alone in the last 24 h, with this ${amount.abs().toFixed()} ${currency} ${after.toFixed()} ${currency}, above the daily limit of ${limit.toFixed()} ${currency} (${APPROVAL_DAILY_LIMITS_SETTING})`;
}

/** Who asked or decided, as approval requests store it (a subject's first 200 characters). */
export const approvalActor = (caller: Caller): string => caller.subject.slice(0, 200);

/**
 * The one rule for deciding a request: a supervisor (isApprover) who is not its requester (compared
 * as stored: approvalActor). FORBIDDEN otherwise, `SELF_APPROVAL` for one's own request.
 */
export function requireApprover(caller: Caller, requestedBy: string, what: string): void {
  if (caller.role === 'ANONYMOUS') throw new DomainError('UNAUTHENTICATED', `Sign in to decide ${what}`, {}, 'UNAUTHENTICATED');
  if (!isApprover(caller)) throw new DomainError('FORBIDDEN', `Only a supervisor (ADMIN, or an agent with scope ${APPROVAL_SCOPE}) decides ${what}`, { field: 'input.id' }, 'FORBIDDEN');
  if (requestedBy === approvalActor(caller)) throw new DomainError('SELF_APPROVAL', `This request (${what}) is your own; another supervisor decides it`, { field: 'input.id' }, 'FORBIDDEN');
}

/** The setting for how long a request waits for a decision (hours, > 0) before it can no longer be approved. */
export const APPROVAL_TTL_SETTING = 'LEDGERLINE_APPROVAL_TTL_HOURS';
/** Three days: a weekend and a working day for a supervisor to look. */
export const DEFAULT_APPROVAL_TTL_HOURS = 72;

/** The TTL in hours: LEDGERLINE_APPROVAL_TTL_HOURS (a decimal above 0), else 72. A bad setting throws, naming it (start-up stops). */
export function approvalTtlHoursFromEnv(env: Record<string, string | undefined> = process.env): number {
  const raw = env[APPROVAL_TTL_SETTING]?.trim();
  if (raw === undefined || raw === '') return DEFAULT_APPROVAL_TTL_HOURS;
  // A request that expires at once (0) or never (a huge number) is not a TTL: refuse both.
  if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) <= 0 || Number(raw) > 24 * 366) throw new Error(`${APPROVAL_TTL_SETTING} must be a number of hours above 0 and at most a year (8784), e.g. "72" (got "${raw}")`);
  return Number(raw);
}

/** When a request made at `createdAt` stops being approvable. */
export const approvalExpiresAt = (createdAt: Date, ttlHours: number): Date => new Date(new Date(createdAt).getTime() + Math.round(ttlHours * 3_600_000));

/** Whether a request made at `createdAt` is past its TTL at `now` (the service's clock). */
export const isApprovalExpired = (createdAt: Date, now: Date, ttlHours: number): boolean => now.getTime() >= approvalExpiresAt(createdAt, ttlHours).getTime();

/** CONFLICT `APPROVAL_EXPIRED`: a request past its TTL is neither approved nor rejected; the agent asks again. */
export function approvalExpired(what: string, createdAt: Date, ttlHours: number): DomainError {
  const at = approvalExpiresAt(createdAt, ttlHours);
  return new DomainError('APPROVAL_EXPIRED', `${what} expired at ${at.toISOString()} (${ttlHours} h after it was made; ${APPROVAL_TTL_SETTING}) without a decision; ask again with a new idempotency key`, { field: 'input.id', expiredAt: at.toISOString() }, 'CONFLICT');
}

/**
 * What ends an approved request FAILED: the operation's own coded refusal (the situation changed:
 * the invoice was credited meanwhile, the balance no longer covers the debit), which trying again
 * would only repeat. Anything else (a database or connection error, a provider that did not answer:
 * category INTERNAL) is transient: null, the request stays PENDING and may be approved again.
 */
export function approvalFailure(error: unknown): { code: string; reason: string } | null {
  if (!(error instanceof DomainError) || error.category === 'INTERNAL') return null;
  return { code: error.code, reason: error.message.slice(0, 2000) };
}
