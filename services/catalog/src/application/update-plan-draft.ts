import { badInput, notFound, type Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { PlanVersion } from '../persistence/entities';
import { assertEditable, contentHash } from '../domain/plan-lifecycle';
import { planHeader, validateDocument } from './plan-documents';
import { recordAudit } from './plan-audit';
import { lockPlan } from './plan-locks';

export interface UpdatePlanDraftCommand {
  draftId: string;
  document: unknown;
  actor: Caller;
  now: Date;
}

/** Edits an open draft; under the plan's lock, so a publish of the draft at the same moment is either before (refused: immutable) or after. */
export async function updatePlanDraft(em: Em, c: UpdatePlanDraftCommand) {
  const found = await em.findOne(PlanVersion, { id: c.draftId });
  if (!found) throw notFound('PlanVersion', c.draftId, 'input.draftId');
  const plan = (await lockPlan(em, { id: found.planId }))!;
  const draft = (await em.findOne(PlanVersion, { id: c.draftId }, { refresh: true }))!;
  assertEditable(draft, draft.id);
  const header = planHeader(c.document);
  if (header.code !== plan.code) throw badInput('input.document.code', `This draft belongs to plan ${plan.code}; the code cannot change`, 'PLAN_CODE_CHANGE');
  if (header.currency !== plan.currency) throw badInput('input.document.currency', `Plan ${plan.code} is billed in ${plan.currency}`, 'PLAN_CURRENCY_CHANGE');
  if (header.paymentMode !== plan.paymentMode) throw badInput('input.document.paymentMode', `Plan ${plan.code} is ${plan.paymentMode}; a new version cannot change the payment mode`, 'PLAN_PAYMENT_MODE_CHANGE');
  const before = JSON.parse(draft.document) as object;
  draft.document = JSON.stringify(c.document);
  draft.contentHash = contentHash(c.document);
  draft.updatedAt = c.now;
  recordAudit(em, { planId: plan.id, planVersionId: draft.id, action: 'DRAFT_UPDATED', actor: c.actor, at: c.now, before, after: c.document as object });
  await em.flush();
  return { draft, validation: await validateDocument(em, c.document) };
}
