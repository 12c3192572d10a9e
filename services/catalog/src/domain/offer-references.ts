/**
 * What a changed offer document would do to the published plan versions that consume its
 * allowances. Offers are not versioned (importOffer rewrites one in place), but a published version
 * is immutable and its lines stay pinned to it, so a `rate` rule's `allowanceId` that an offer used
 * to grant must keep resolving to an allowance of the rule's unit. Pure: the caller reads the offers
 * and the versions.
 */
import { allowancesInScope, type Allowance, type OfferDocument, type PlanDocument, type Problem } from '@ledgerline/rating';

export interface PublishedVersion {
  planCode: string;
  version: number;
  planVersionId: string;
  document: PlanDocument;
}

/** A published version a change breaks, and its rules (JSON pointers to their `allowanceId`) that consume the allowance. */
export interface AffectedVersion {
  planCode: string;
  version: number;
  planVersionId: string;
  rules: string[];
}

/** A problem at a pointer in the imported offer document, with the published versions it breaks. */
export interface OfferChangeProblem extends Problem {
  planVersions: AffectedVersion[];
}

/**
 * The allowance ids whose resolution a change of offer `stored` → `imported` can alter: the ids it
 * granted or grants (a reference resolves through the offers granting its id, and no other). Imports
 * lock these (plan-locks.ts, lockAllowances) before checking the published versions.
 */
export function allowanceIdsTouched(stored: OfferDocument | null, imported: OfferDocument): string[] {
  return [...new Set([...(stored?.allowances ?? []), ...imported.allowances].map((a) => a.id))];
}

/** The allowance ids a plan document's `rate` rules consume (any shape: publishing locks them before validating). */
export function allowanceIdsConsumed(document: unknown): string[] {
  const rules = (document as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(rules)) return [];
  const ids = rules.map((rule) => (rule as { event?: { type?: unknown; params?: { allowanceId?: unknown } } } | null)?.event).filter((event) => event?.type === 'rate').map((event) => event?.params?.allowanceId);
  return [...new Set(ids.filter((id): id is string => typeof id === 'string'))];
}

/** How a rule's reference reads: 0 resolves to an allowance of its unit; 1 dangles (no bucket: the rule's price); 2 another unit (UNIT_MISMATCH: the version no longer compiles). */
type Standing = 0 | 1 | 2;

const standing = (allowance: Allowance | undefined, unit: unknown): Standing => (!allowance ? 1 : allowance.unit === unit ? 0 : 2);

/**
 * The problems of replacing offer `imported.code`'s document (`stored`, null when the offer is new)
 * with `imported`, one per change at its pointer in `imported`: ALLOWANCE_IN_USE at `/allowances`
 * for an allowance dropped or renamed, ALLOWANCE_UNIT_IN_USE at `/allowances/i/unit` for one whose
 * unit no longer matches, each listing the published versions whose reference the change makes
 * worse (resolved before → dangling or another unit; dangling → another unit). `offers` are the
 * catalog's offers in the order validation reads them (code order); this offer's place among them
 * is kept (a new one not among them is put last). Drafts are not checked: their own validation
 * reads the offers as they are, and publishing refuses what they name wrongly.
 */
export function offerChangeProblems(c: { offers: readonly OfferDocument[]; stored: OfferDocument | null; imported: OfferDocument; versions: readonly PublishedVersion[] }): OfferChangeProblem[] {
  const code = c.imported.code;
  const others = (own: OfferDocument | null) => {
    const list = c.offers.flatMap((offer) => (offer.code === code ? (own ? [own] : []) : [offer]));
    return own && !c.offers.some((offer) => offer.code === code) ? [...list, own] : list;
  };
  const before = others(c.stored);
  const after = others(c.imported);
  // Only references to an id this offer granted or grants can change.
  const ids = new Set(allowanceIdsTouched(c.stored, c.imported));
  const byProblem = new Map<string, { pointer: string; code: string; id: string; worst: Standing; units: Set<string>; versions: Map<string, AffectedVersion> }>();
  for (const version of c.versions) {
    const rules = (Array.isArray(version.document.rules) ? version.document.rules : [])
      .map((rule, i) => ({ rule, i }))
      .filter(({ rule }) => rule?.event?.type === 'rate' && typeof rule.event.params?.allowanceId === 'string' && ids.has(rule.event.params.allowanceId));
    if (rules.length === 0) continue;
    const was = allowancesInScope(version.document, before);
    const now = allowancesInScope(version.document, after);
    for (const { rule, i } of rules) {
      const params = rule.event.params as { allowanceId: string; unit: string };
      const id = params.allowanceId;
      const then = standing(was.get(id), params.unit);
      const next = standing(now.get(id), params.unit);
      if (next <= then) continue;
      const at = c.imported.allowances.findIndex((a) => a.id === id);
      const key = at < 0 ? `/allowances|${id}` : `/allowances/${at}/unit`;
      const entry = byProblem.get(key) ?? { pointer: at < 0 ? '/allowances' : `/allowances/${at}/unit`, code: at < 0 ? 'ALLOWANCE_IN_USE' : 'ALLOWANCE_UNIT_IN_USE', id, worst: next, units: new Set<string>(), versions: new Map() };
      entry.worst = Math.max(entry.worst, next) as Standing;
      entry.units.add(params.unit);
      const affected = entry.versions.get(version.planVersionId) ?? { planCode: version.planCode, version: version.version, planVersionId: version.planVersionId, rules: [] };
      affected.rules.push(`/rules/${i}/event/params/allowanceId`);
      entry.versions.set(version.planVersionId, affected);
      byProblem.set(key, entry);
    }
  }
  return [...byProblem.values()].sort((a, b) => a.pointer.localeCompare(b.pointer) || a.id.localeCompare(b.id)).map((entry) => {
    const planVersions = [...entry.versions.values()].sort((a, b) => a.planCode.localeCompare(b.planCode) || a.version - b.version);
    const list = planVersions.map((v) => `${v.planCode} version ${v.version} (${v.rules.join(', ')})`).join('; ');
    const units = [...entry.units].map((u) => `"${u}"`).join(' or ');
    const outcome = entry.worst === 2
      ? 'those versions would no longer rate: UNIT_MISMATCH, every event of their lines rejected (PLAN_INVALID)'
      : 'those rules would find no bucket of it and charge their price for what the offer covered (passes bought from now on included)';
    const why = `Published versions never change and their lines stay on them, so ${outcome}.`;
    const message = entry.code === 'ALLOWANCE_IN_USE'
      ? `Allowance "${entry.id}" is no longer in the offer, but the rate rules of published plan versions consume it: ${list}. ${why} Keep "${entry.id}" (unit ${units}) in the offer, or sell the new terms under a new offer code.`
      : `Allowance "${entry.id}" would count "${c.imported.allowances.find((a) => a.id === entry.id)!.unit}", but the rate rules of published plan versions consume it in ${units}: ${list}. ${why} Keep ${units}, or sell the new terms under a new offer code.`;
    return { pointer: entry.pointer, code: entry.code, message, planVersions };
  });
}
