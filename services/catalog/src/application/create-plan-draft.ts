import { conflict, newId, type Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { PlanVersion, type Plan } from '../persistence/entities';
import { assertNotRetired, contentHash } from '../domain/plan-lifecycle';
import { planHeader, validateDocument, type PlanHeader } from './plan-documents';
import { recordAudit } from './plan-audit';
import { flushDraft, lockOrCreatePlan } from './plan-locks';

export interface CreatePlanDraftCommand {
  document: unknown;
  actor: Caller;
  now: Date;
}

/** A new version of an existing plan: not retired, same currency and payment mode. */
export function assertNextVersionFits(plan: Plan, header: PlanHeader): void {
  assertNotRetired(plan.status, plan.code);
  if (plan.currency !== header.currency) {
    throw conflict('PLAN_CURRENCY_CHANGE', `Plan ${plan.code} is billed in ${plan.currency}; a new version cannot change the currency (create a new plan)`, { field: 'input.document.currency' });
  }
  if (plan.paymentMode !== header.paymentMode) {
    throw conflict('PLAN_PAYMENT_MODE_CHANGE', `Plan ${plan.code} is ${plan.paymentMode}; a new version cannot change the payment mode`, { field: 'input.document.paymentMode' });
  }
}

/**
 * Opens a draft: a new plan, or the next version of an existing one. One open draft per plan: the
 * check runs under the plan's lock (plan-locks.ts), so of several calls at once one opens the draft
 * and the others get CONFLICT PLAN_DRAFT_ALREADY_OPEN.
 */
export async function createPlanDraft(em: Em, c: CreatePlanDraftCommand) {
  const header = planHeader(c.document);
  const { plan, created } = await lockOrCreatePlan(em, header, c.now);
  let before: object = {};
  if (!created) {
    assertNextVersionFits(plan, header);
    const open = await em.findOne(PlanVersion, { planId: plan.id, status: 'DRAFT' });
    if (open) throw conflict('PLAN_DRAFT_ALREADY_OPEN', `Plan ${plan.code} already has an open draft ${open.id}; update it instead`, { field: 'input.document.code', draftId: open.id });
    const current = await em.findOne(PlanVersion, { planId: plan.id, status: 'PUBLISHED' }, { orderBy: { version: 'desc' } });
    if (current) before = JSON.parse(current.document);
  }
  const draft = em.create(PlanVersion, {
    id: newId('planVersion'),
    planId: plan.id,
    version: null,
    status: 'DRAFT',
    contentHash: contentHash(c.document),
    document: JSON.stringify(c.document),
    effectiveFrom: null,
    publishedAt: null,
    createdAt: c.now,
    updatedAt: c.now,
  });
  recordAudit(em, { planId: plan.id, planVersionId: draft.id, action: 'DRAFT_CREATED', actor: c.actor, at: c.now, before, after: c.document as object });
  await flushDraft(em, plan.code);
  return { draft, validation: await validateDocument(em, c.document) };
}
