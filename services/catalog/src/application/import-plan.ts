import { createHash } from 'node:crypto';
import { DomainError, newId, badInput } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { Plan, PlanVersion } from '../persistence/entities';

export interface ImportPlanCommand {
  document: unknown;
  effectiveFrom?: Date | null;
  now: Date;
}

interface PlanHeader {
  code: string;
  name: string;
  paymentMode: 'PREPAID' | 'POSTPAID';
  currency: string;
}

function header(document: unknown): PlanHeader {
  const d = document as Partial<PlanHeader> | null;
  if (!d || typeof d !== 'object') throw badInput('input.document', 'The plan document must be a JSON object');
  if (typeof d.code !== 'string' || !d.code) throw badInput('input.document.code', 'The plan needs a code');
  if (typeof d.name !== 'string' || !d.name) throw badInput('input.document.name', 'The plan needs a name');
  if (d.paymentMode !== 'PREPAID' && d.paymentMode !== 'POSTPAID') throw badInput('input.document.paymentMode', 'paymentMode must be PREPAID or POSTPAID');
  if (typeof d.currency !== 'string' || !/^[A-Z]{3}$/.test(d.currency)) throw badInput('input.document.currency', 'currency must be an ISO 4217 code');
  return d as PlanHeader;
}

/** Canonical JSON (sorted keys) so the same document always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Publishes a document as the plan's next version. Idempotent: the same document again returns
 * the existing version and changes nothing.
 */
export async function importPlan(em: Em, command: ImportPlanCommand): Promise<{ plan: Plan; version: PlanVersion; created: boolean }> {
  const h = header(command.document);
  const contentHash = createHash('sha256').update(canonical(command.document)).digest('hex');
  let plan = await em.findOne(Plan, { code: h.code });
  if (plan) {
    const existing = await em.findOne(PlanVersion, { planId: plan.id, contentHash });
    if (existing) return { plan, version: existing, created: false };
    if (plan.currency !== h.currency) throw new DomainError('PLAN_CURRENCY_CHANGE', `Plan ${h.code} is billed in ${plan.currency}; a new version cannot change it`, { field: 'input.document.currency' });
  } else {
    plan = em.create(Plan, { id: newId('plan'), code: h.code, name: h.name, status: 'PUBLISHED', paymentMode: h.paymentMode, currency: h.currency, latestVersion: 0, createdAt: command.now });
  }
  plan.latestVersion += 1;
  plan.name = h.name;
  plan.status = 'PUBLISHED';
  // Ids are plain columns (no ORM relation), so the plan row must exist before its version's FK.
  await em.flush();
  const version = em.create(PlanVersion, {
    id: newId('planVersion'),
    planId: plan.id,
    version: plan.latestVersion,
    status: 'PUBLISHED',
    contentHash,
    document: JSON.stringify(command.document),
    effectiveFrom: command.effectiveFrom ?? command.now,
    publishedAt: command.now,
    createdAt: command.now,
  });
  enqueueEvent(em, 'planPublished', {
    source: 'ledgerline/catalog',
    subject: plan.id,
    key: [plan.id, String(version.version)],
    time: command.now,
    data: { planId: plan.id, code: plan.code, version: version.version, planVersionId: version.id, effectiveFrom: version.effectiveFrom?.toISOString() },
  });
  await em.flush();
  return { plan, version, created: true };
}
