import { badInput, notFound, type Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { Plan, PlanVersion } from '../persistence/entities';
import { assertEditable, contentHash } from '../domain/plan-lifecycle';
import { planHeader, validateDocument } from './plan-documents';
import { recordAudit } from './plan-audit';

export interface UpdatePlanDraftCommand {
  draftId: string;
  document: unknown;
  actor: Caller;
  now: Date;
}

export async function updatePlanDraft(em: Em, c: UpdatePlanDraftCommand) {
  const draft = await em.findOne(PlanVersion, { id: c.draftId });
  if (!draft) throw notFound('PlanVersion', c.draftId, 'input.draftId');
  assertEditable(draft, draft.id);
  const plan = (await em.findOne(Plan, { id: draft.planId }))!;
  const header = planHeader(c.document);
  if (header.code !== plan.code) throw badInput('input.document.code', `This draft belongs to plan ${plan.code}; the code cannot change`, 'PLAN_CODE_CHANGE');
  if (header.currency !== plan.currency) throw badInput('input.document.currency', `Plan ${plan.code} is billed in ${plan.currency}`, 'PLAN_CURRENCY_CHANGE');
  const before = JSON.parse(draft.document) as object;
  draft.document = JSON.stringify(c.document);
  draft.contentHash = contentHash(c.document);
  draft.updatedAt = c.now;
  recordAudit(em, { planId: plan.id, planVersionId: draft.id, action: 'DRAFT_UPDATED', actor: c.actor, at: c.now, before, after: c.document as object });
  await em.flush();
  return { draft, validation: await validateDocument(em, c.document) };
}
