/** Reading the catalog-as-code directory (catalog/plans/*.json, catalog/offers/*.json). */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OfferDocument, PlanDocument } from '../domain/plan-types';
import type { Problem } from '../validation/problem';
import { validateOffer, validatePlan } from '../validation/validate-plan';

export interface CatalogFileProblem extends Problem {
  /** Path of the file, relative to the catalog directory ("plans/postpaid-20gb.json"). */
  file: string;
}

export interface LoadedCatalog {
  /** Valid plans only, keyed by file. */
  plans: Array<{ file: string; document: PlanDocument }>;
  offers: Array<{ file: string; document: OfferDocument }>;
  problems: CatalogFileProblem[];
  valid: boolean;
}

async function jsonFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => name.endsWith('.json')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Reads and validates every offer, then every plan (plans may refer to offers' codes and
 * allowances). Also reports a code used by two files.
 */
export async function loadCatalogDir(dir: string): Promise<LoadedCatalog> {
  const problems: CatalogFileProblem[] = [];
  const offers: LoadedCatalog['offers'] = [];
  const plans: LoadedCatalog['plans'] = [];
  const codes = new Map<string, string>();
  const claimCode = (code: unknown, file: string) => {
    if (typeof code !== 'string') return;
    const other = codes.get(code);
    if (other) problems.push({ file, pointer: '/code', code: 'DUPLICATE_CODE', message: `Code "${code}" is already used by ${other}.` });
    else codes.set(code, file);
  };

  for (const name of await jsonFiles(join(dir, 'offers'))) {
    const file = `offers/${name}`;
    const text = await readFile(join(dir, file), 'utf8');
    const report = validateOffer(text);
    problems.push(...report.problems.map((problem) => ({ file, ...problem })));
    if (report.valid) {
      const document = JSON.parse(text) as OfferDocument;
      claimCode(document.code, file);
      offers.push({ file, document });
    }
  }
  const knownOffers = offers.map((offer) => offer.document);
  for (const name of await jsonFiles(join(dir, 'plans'))) {
    const file = `plans/${name}`;
    const text = await readFile(join(dir, file), 'utf8');
    const report = validatePlan(text, { knownOffers });
    problems.push(...report.problems.map((problem) => ({ file, ...problem })));
    if (report.valid) {
      const document = JSON.parse(text) as PlanDocument;
      claimCode(document.code, file);
      plans.push({ file, document });
    }
  }
  return { plans, offers, problems, valid: problems.length === 0 };
}
