import { createHash } from 'node:crypto';
import { conflict } from '@ledgerline/contracts';

/**
 * The plan lifecycle, as pure rules: DRAFT (editable) → PUBLISHED (immutable, numbered, effective
 * from a date) → RETIRED (no new subscriptions; pinned subscriptions keep paying what they paid).
 */
export type VersionStatus = 'DRAFT' | 'PUBLISHED' | 'RETIRED';

export interface VersionFacts {
  status: VersionStatus | string;
  version?: number | null;
  effectiveFrom?: Date | null;
}

export function assertEditable(v: VersionFacts, id: string): void {
  if (v.status !== 'DRAFT') throw conflict('PLAN_VERSION_IMMUTABLE', `Version ${id} is ${v.status}; published versions never change. Open a new draft instead.`, { field: 'input.draftId' });
}

export function assertNotRetired(planStatus: string, code: string): void {
  if (planStatus === 'RETIRED') throw conflict('PLAN_ALREADY_RETIRED', `Plan ${code} is retired; it cannot be changed or sold`, { field: 'input.code' });
}

/** The published version in force at `at`: the newest whose effective date has come. */
export function versionInForce<T extends VersionFacts>(versions: readonly T[], at: Date): T | null {
  let best: T | null = null;
  for (const v of versions) {
    if (v.status === 'DRAFT' || v.version == null || !v.effectiveFrom || v.effectiveFrom > at) continue;
    if (!best || v.version > best.version!) best = v;
  }
  return best;
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
