/** One thing wrong with a catalog document, addressed by an RFC 6901 JSON pointer. */
export interface Problem {
  /** "" is the whole document; "/rules/3/event/params/pricePerUnit" a field. */
  pointer: string;
  /** Written for the product manager editing the file: what is wrong and what to do. */
  message: string;
  /** Stable code, e.g. MISSING_FIELD, UNKNOWN_FACT, AMBIGUOUS_TARIFF. */
  code: string;
  /**
   * Set on problems only authoring refuses (AMOUNT_PRECISION, an empty `all`/`any` list,
   * AMBIGUOUS_TARIFF): a new draft or publish must fix them, but a version published before the
   * rule existed still compiles and rates as the engine reads it (validatePlan's 'rating' mode).
   * Unset: the document cannot be rated safely either.
   */
  authoringOnly?: true;
}

/**
 * What a validation is for. 'authoring' (drafts, publishing, `catalog validate`): every rule.
 * 'rating' (compiling a version to rate with it, e.g. a published version subscriptions are pinned
 * to): only what rating needs to be safe; authoring-only problems are warnings.
 */
export type ValidationMode = 'authoring' | 'rating';

export interface ValidationReport {
  /** No problems: nothing in the document is refused in the mode it was validated in. */
  valid: boolean;
  problems: Problem[];
  /** 'rating' mode only: authoring-only problems, which do not stop the version from rating. */
  warnings?: Problem[];
}

/** RFC 6901 escaping of one reference token. */
export function escapePointerToken(token: string | number): string {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Closest candidate by edit distance, for "did you mean" hints; undefined when nothing is close. */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(input.length / 3)) + 1;
  for (const candidate of candidates) {
    // Candidates come from the document (allowance ids), which may not be strings when the schema refused it.
    if (typeof candidate !== 'string') continue;
    const distance = editDistance(input.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

export function didYouMean(input: string, candidates: readonly string[]): string {
  const suggestion = closest(input, candidates);
  return suggestion ? ` Did you mean "${suggestion}"?` : '';
}
