import { createHash } from 'node:crypto';
import { conflict } from '@ledgerline/contracts';

/**
 * The plan lifecycle, as pure rules: DRAFT (editable) → PUBLISHED (immutable, numbered, effective
 * from a date) → RETIRED (no new subscriptions; pinned subscriptions keep paying what they paid).
 * A published version whose date has not come may be CANCELLED instead (withdrawn: kept in the
 * history with its number, never in force); once in force it never is (lines were sold on it).
 */
export type VersionStatus = 'DRAFT' | 'PUBLISHED' | 'RETIRED' | 'CANCELLED';

export interface VersionFacts {
  status: VersionStatus | string;
  version?: number | null;
  effectiveFrom?: Date | null;
}

export function assertEditable(v: VersionFacts, id: string): void {
  if (v.status !== 'DRAFT') throw conflict('PLAN_VERSION_IMMUTABLE', `Version ${id} is ${v.status}; ${v.status === 'CANCELLED' ? 'a withdrawn version is never published again' : 'published versions never change'}. Open a new draft instead.`, { field: 'input.draftId' });
}

export function assertNotRetired(planStatus: string, code: string): void {
  if (planStatus === 'RETIRED') throw conflict('PLAN_ALREADY_RETIRED', `Plan ${code} is retired; it cannot be changed or sold`, { field: 'input.code' });
}

/** The published version in force at `at`: the newest whose effective date has come (drafts and cancelled versions never are). */
export function versionInForce<T extends VersionFacts>(versions: readonly T[], at: Date): T | null {
  let best: T | null = null;
  for (const v of versions) {
    if (v.status === 'DRAFT' || v.status === 'CANCELLED' || v.version == null || !v.effectiveFrom || v.effectiveFrom > at) continue;
    if (!best || v.version > best.version!) best = v;
  }
  return best;
}

/**
 * The plan's name at `at`: its version in force's (a version dated later renames the plan on its
 * date, not when it is published: the new name is not public before then, and a version withdrawn
 * before its date never renames it); with none in force yet (all dated later), the latest published
 * version's; never published, `stored` (the plan row's, from its first draft).
 */
export function planNameAt<T extends VersionFacts & { document: string }>(versions: readonly T[], at: Date, stored: string): string {
  let latest: T | null = null;
  for (const v of versions) if (v.status === 'PUBLISHED' && v.version != null && (!latest || v.version > latest.version!)) latest = v;
  const source = versionInForce(versions, at) ?? latest;
  if (!source) return stored;
  const name = (JSON.parse(source.document) as { name?: unknown }).name;
  return typeof name === 'string' ? name : stored;
}

/**
 * Has this version taken effect by `at`? A published version whose date has come: in force, or
 * superseded since (a version in force is never withdrawn). Drafts, versions still scheduled and
 * cancelled ones (withdrawn before their date) have not. Who is not staff reads only these: what is
 * still to come (a price rise, a launch) is not public before its date.
 */
export function hasTakenEffect(v: VersionFacts, at: Date): boolean {
  return v.status !== 'DRAFT' && v.status !== 'CANCELLED' && v.version != null && !!v.effectiveFrom && v.effectiveFrom.getTime() <= at.getTime();
}

/**
 * A published version still scheduled at `now` (its date not yet come) whose date is at or after
 * `effectiveFrom`: a new version effective then would outrank it before it ever takes effect
 * (`versionInForce` takes the highest number whose date has come). The latest-dated such version,
 * or null. Publishing refuses when there is one (PLAN_VERSION_SCHEDULED).
 */
export function scheduledAtOrAfter<T extends VersionFacts>(versions: readonly T[], effectiveFrom: Date, now: Date): T | null {
  let found: T | null = null;
  for (const v of versions) {
    if (v.status !== 'PUBLISHED' || !v.effectiveFrom || v.effectiveFrom.getTime() <= now.getTime()) continue;
    if (v.effectiveFrom.getTime() < effectiveFrom.getTime()) continue;
    if (!found || v.effectiveFrom > found.effectiveFrom!) found = v;
  }
  return found;
}

/**
 * May this version be withdrawn at `now`? Only a PUBLISHED one whose date has not come (CANCELLED
 * already: the caller answers it as it is). A version in force is never withdrawn: lines were sold
 * on it, and the catalog's history of what was in force must not change (PLAN_VERSION_IN_FORCE). A
 * draft was never published: nothing to cancel (PLAN_VERSION_NOT_SCHEDULED; edit it or publish it).
 */
export function assertCancellable(v: VersionFacts & { id: string }, now: Date): void {
  if (v.status === 'PUBLISHED' && v.effectiveFrom && v.effectiveFrom.getTime() <= now.getTime()) {
    throw conflict('PLAN_VERSION_IN_FORCE', `Version ${v.version} (${v.id}) has been in force since ${v.effectiveFrom.toISOString()}: lines may have been sold on it, so it is never withdrawn. Publish a new version instead`, { field: 'input.versionId', effectiveFrom: v.effectiveFrom.toISOString() });
  }
  if (v.status !== 'PUBLISHED') {
    throw conflict('PLAN_VERSION_NOT_SCHEDULED', `Version ${v.id} is ${v.status}, not a published version waiting for its date: only those can be cancelled`, { field: 'input.versionId', status: v.status });
  }
}

/** Canonical JSON (sorted keys): the same document always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function contentHash(document: unknown): string {
  return createHash('sha256').update(canonicalJson(document)).digest('hex');
}
