import { newId, type Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { PlanVersion } from '../persistence/entities';
import { contentHash } from '../domain/plan-lifecycle';
import { planHeader } from './plan-documents';
import { lockOrCreatePlan } from './plan-locks';
import { assertNextVersionFits } from './create-plan-draft';
import { publishVersion } from './publish-plan';
import { recordAudit } from './plan-audit';

/**
 * Catalog as code: publish a document from catalog/plans. Publishing a document that is
 * already the plan's latest published version (the one in force, or the one scheduled to take
 * over: `versionInForce` takes the highest number whose date has come) changes nothing, so
 * `ledgerline catalog publish` can run on every merge. Only that version counts: a document an
 * OLDER version had (a change reverted in git, A → B → A, or a B published from Plan Studio over
 * the repository's A) is published again as a new version, so the repository's document is what
 * is in force (it used to answer "unchanged" when any version had the hash, and B stayed in force).
 * The plan is locked (or created) first, so two imports of the same document at once publish it
 * once: the second waits, then finds it as the latest version (`created: false`).
 *
 * An open Plan Studio draft of the plan is kept as it is: the document is published as a version of
 * its own (DRAFT_CREATED + PUBLISHED in the audit trail, as before), and the draft stays open for its
 * product manager to publish or rework (it used to be overwritten with the file and published, the
 * unpublished work lost without a word). Only a draft holding exactly the imported document is the
 * version published (nothing of it is lost). The publish rules are publishPlan's: no date in the
 * past, nothing dated at or before a version still scheduled (CONFLICT PLAN_VERSION_SCHEDULED).
 */
export async function importPlan(em: Em, c: { document: unknown; effectiveFrom?: Date | null; actor: Caller; now: Date }) {
  const header = planHeader(c.document);
  const hash = contentHash(c.document);
  const { plan, created } = await lockOrCreatePlan(em, header, c.now);
  const latest = await em.findOne(PlanVersion, { planId: plan.id, status: 'PUBLISHED' }, { orderBy: { version: 'desc' } });
  if (latest?.contentHash === hash) return { plan, version: latest, created: false };
  if (!created) assertNextVersionFits(plan, header);
  const openDraft = await em.findOne(PlanVersion, { planId: plan.id, status: 'DRAFT' });
  const document = JSON.stringify(c.document);
  // A draft holding this very document is the version published; else a row of its own, created
  // once every check has passed and published in the same flush (never an open draft beside the
  // product manager's: one open draft per plan).
  const row = (): PlanVersion => {
    if (openDraft?.contentHash === hash) return openDraft;
    const fresh = em.create(PlanVersion, {
      id: newId('planVersion'),
      planId: plan.id,
      version: null,
      status: 'DRAFT',
      contentHash: hash,
      document,
      effectiveFrom: null,
      publishedAt: null,
      createdAt: c.now,
      updatedAt: c.now,
    });
    recordAudit(em, { planId: plan.id, planVersionId: fresh.id, action: 'DRAFT_CREATED', actor: c.actor, at: c.now, before: latest ? JSON.parse(latest.document) : {}, after: c.document as object });
    return fresh;
  };
  const published = await publishVersion(em, plan, { document, row }, { effectiveFrom: c.effectiveFrom, actor: c.actor, now: c.now });
  return { ...published, created: true };
}
