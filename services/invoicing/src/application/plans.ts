// Plan versions from the catalog, cached: in memory (versions are immutable) and in the
// `plan_version` table, so a bill run asks the catalog at most once per version.
import { DomainError } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { rows, sql } from './sql';

export interface PlanDoc {
  code: string;
  name: string;
  taxCategory: string;
  maxLines?: number;
  recurringFee?: { amount: string; period: 'MONTH' | 'DAYS30' | 'WEEK'; proration: 'DAILY' | 'NONE' };
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
    if (!doc) throw new DomainError('PLAN_VERSION_UNKNOWN', `Plan version ${id} is neither known here nor in the catalog`, { field: 'planVersionId' });
    await sql(em)('plan_version').insert({ id, plan_code: String(doc.code), document: JSON.stringify(doc), fetched_at: now }).onConflict('id').ignore();
    memory.set(id, doc as unknown as PlanDoc);
    result.set(id, doc as unknown as PlanDoc);
  }
  return result;
}
