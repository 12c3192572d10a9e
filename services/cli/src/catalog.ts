import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { OfferDocument, SubscriberContext, UsageEvent } from '@ledgerline/rating';
import { GraphCallError, graphClient } from './graph-client';

const DEFAULT_DIR = path.resolve(import.meta.dirname, '..', '..', '..', 'catalog');

/** The rating engine, loaded by the commands that use it: half a second of start-up `catalog retire` and the other commands skip. */
const rating = () => import('@ledgerline/rating');

function readJsonFile(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** validate: a directory (plans/ and offers/) or single files; exit 1 with every problem. */
async function validate(targets: string[]): Promise<number> {
  const { loadCatalogDir, validateOffer, validatePlan } = await rating();
  let problems = 0;
  let checked = 0;
  for (const target of targets.length ? targets : [DEFAULT_DIR]) {
    if (fs.statSync(target).isDirectory()) {
      const loaded = await loadCatalogDir(target);
      checked += loaded.plans.length + loaded.offers.length;
      for (const p of loaded.problems) out(`${path.join(target, p.file)}: ${p.pointer || '(document)'}: ${p.message} [${p.code}]`);
      problems += loaded.problems.length;
      continue;
    }
    const text = fs.readFileSync(target, 'utf8');
    const isOffer = path.basename(path.dirname(target)) === 'offers';
    const offers = isOffer ? [] : (await loadCatalogDir(path.resolve(path.dirname(target), '..'))).offers.map((o) => o.document as OfferDocument);
    const report = isOffer ? validateOffer(text) : validatePlan(text, { knownOffers: offers });
    checked += 1;
    for (const p of report.problems) out(`${target}: ${p.pointer || '(document)'}: ${p.message} [${p.code}]`);
    problems += report.problems.length;
  }
  out(problems ? `${problems} problem(s) in ${checked} document(s)` : `${checked} document(s) valid`);
  return problems ? 1 : 0;
}

async function diff(a: string, b: string | undefined): Promise<number> {
  const { diffPlans } = await rating();
  const left = readJsonFile(a) as { code: string };
  let right: object;
  if (b) right = readJsonFile(b) as object;
  else {
    const call = await graphClient();
    const data = await call<{ plan: { currentVersion: { document: object } | null } | null }>('query($c: String!) { plan(code: $c) { currentVersion { document } } }', { c: left.code });
    if (!data.plan?.currentVersion) {
      out(`plan ${left.code} is not published yet: everything in ${a} is new`);
      return 0;
    }
    // Show what publishing the file would change: published → file.
    right = left;
    left.code = left.code as string;
    return printPatch(diffPlans(data.plan.currentVersion.document, right));
  }
  return printPatch(diffPlans(left, right));
}

function printPatch(patch: { op: string; path: string; value?: unknown }[]): number {
  if (patch.length === 0) out('no differences');
  for (const op of patch) out(`${op.op.padEnd(7)} ${op.path}${'value' in op ? ` = ${JSON.stringify(op.value)}` : ''}`);
  return 0;
}

interface UsageFile {
  subscriber?: Partial<SubscriberContext>;
  /** Usage records as written (rating's UsageEvent fields, in any form usage takes); checked by usageAsRated. */
  events: unknown[];
}

/**
 * The file's records as usage would rate them: their fields checked and normalised by usage's own rule (rating's
 * checkUsageFields, as catalog's simulateRating does: "fr" is FR, "" not roaming, "data", "mo", "05" taken), so the
 * simulation prices what usage rates. A record usage would reject is listed (its number in `events`, from 1, its id,
 * field, reason and code) and not priced. No clock check: a simulation may price usage to come.
 */
async function usageAsRated(events: readonly unknown[]): Promise<UsageEvent[]> {
  const { checkUsageFields, usageEventOf } = await rating();
  const accepted: UsageEvent[] = [];
  const refused: string[] = [];
  events.forEach((event, index) => {
    const record = typeof event === 'object' && event !== null && !Array.isArray(event) ? (event as Record<string, unknown>) : {};
    const id = typeof record.id === 'string' ? ` (${record.id})` : '';
    const checked = checkUsageFields(record);
    if (!checked.ok) {
      const { code, field, reason } = checked.rejection;
      refused.push(`  record ${index + 1}${id}: ${field}: ${reason} [${code}]`);
      return;
    }
    // precedingQuantity is not read: usage reads it only on its own charging sessions' records.
    accepted.push(
      usageEventOf(record.id as string, checked.fields, {
        ...(typeof record.lineId === 'string' ? { lineId: record.lineId } : {}),
        ...(typeof record.msisdn === 'string' ? { msisdn: record.msisdn } : {}),
      }),
    );
  });
  if (refused.length) {
    out(`${refused.length} of ${events.length} record(s) refused (usage would reject them; not priced):`);
    for (const line of refused) out(line);
  }
  return accepted;
}

async function simulateCommand(planFile: string, options: { usage: string; compare?: string[] }): Promise<number> {
  const { compilePlan, comparePlans, loadCatalogDir, simulate } = await rating();
  const usage = readJsonFile(options.usage) as UsageFile;
  if (!Array.isArray(usage?.events)) throw new Error(`${options.usage}: "events" must be a list of usage records`);
  const offers = (await loadCatalogDir(DEFAULT_DIR)).offers.map((o) => o.document as OfferDocument);
  const compiled = compilePlan(readJsonFile(planFile), { version: 'local', knownOffers: offers });
  const ctx = { accountType: compiled.plan.paymentMode, lineStatus: 'ACTIVE', lineCount: 1, ...usage.subscriber } as SubscriberContext;
  const events = await usageAsRated(usage.events);
  const report = await simulate(compiled, events, ctx);
  out(`${report.planCode}: ${report.events} records, ${report.rated} rated, ${report.denied} denied`);
  for (const c of report.charges) {
    const r = c.result;
    out(
      `  ${r.eventId.padEnd(20)} ${r.decision.padEnd(7)} ${(r.denyReason ?? r.allowanceId ?? '').padEnd(18)} units ${r.chargedUnits.padStart(8)} covered ${c.coveredUnits.padStart(8)} charge ${c.charge.padStart(10)}  ${r.trace.map((t) => t.rule).join(', ')}`,
    );
  }
  out(`usage ${report.usageCharge} + recurring ${report.recurringFee} + add-ons ${report.addOnFee} + one-off ${report.oneOffFee} = ${report.total} ${report.currency}`);
  if (options.compare?.length) {
    const plans = [compiled, ...options.compare.map((f) => compilePlan(readJsonFile(f), { version: 'local', knownOffers: offers }))];
    out('\ncheapest first:');
    for (const cost of await comparePlans(events, plans, usage.subscriber ?? {})) out(`  ${cost.planCode.padEnd(28)} ${cost.total.padStart(12)} ${cost.currency}`);
  }
  return 0;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/;

/**
 * `--effective-from`: an RFC 3339 date-time with an offset (what the catalog's DateTime takes), a
 * real calendar date (no 2026-02-30 rolled over to March). Sent as UTC. Whether it is in the past or
 * before a scheduled version is the catalog's to say (its clock, its versions).
 */
export function effectiveFromOption(value: string): string {
  const m = RFC3339.exec(value.trim());
  const ok = m && (() => {
    const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number);
    const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
    return mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth && h <= 23 && mi <= 59 && sec <= 59 && (m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59));
  })();
  if (!ok) throw new InvalidArgumentError(`"${value}" is not a date-time with an offset; give RFC 3339, e.g. 2026-05-01T00:00:00Z`);
  return new Date(value.trim()).toISOString();
}

/** A refusal as a person reads it: the catalog's message, its reason code, and what to do for a scheduled version. */
function refusal(error: unknown, effectiveFrom: string | undefined): string[] {
  if (!(error instanceof GraphCallError)) return [(error as Error).message];
  return error.errors.flatMap((e) => {
    const x = e.extensions ?? {};
    const lines = [`${e.message}${x.reason ? ` [${x.reason}]` : x.code ? ` [${x.code}]` : ''}`];
    if (x.reason === 'PLAN_VERSION_SCHEDULED') {
      lines.push(
        `  version ${String(x.scheduledVersion)} (${String(x.scheduledVersionId)}) takes effect at ${String(x.scheduledEffectiveFrom)}${effectiveFrom ? `; --effective-from ${effectiveFrom} is not after it` : ''}:`,
        `  publish again with --effective-from after that date, or withdraw that version first (cancelScheduledPlanVersion, versionId ${String(x.scheduledVersionId)})`,
      );
    }
    return lines;
  });
}

async function publish(dir: string, options: { effectiveFrom?: string } = {}): Promise<number> {
  const { loadCatalogDir } = await rating();
  const loaded = await loadCatalogDir(dir);
  if (!loaded.valid) {
    for (const p of loaded.problems) out(`${path.join(dir, p.file)}: ${p.pointer || '(document)'}: ${p.message} [${p.code}]`);
    out('not published: fix the problems above first');
    return 1;
  }
  const call = await graphClient();
  // Each offer and plan on its own: one refused (a retired offer changed, a version scheduled, a date in the past) is
  // shown and the others still go.
  let refusedOffers = 0;
  for (const { file, document } of loaded.offers) {
    try {
      const r = await call<{ importOffer: { offer: { status: string; retiredAt: string | null } } }>(
        'mutation($i: ImportOfferInput!) { importOffer(input: $i) { offer { code status retiredAt } } }',
        { i: { document } },
      );
      const o = r.importOffer.offer;
      out(o.status === 'RETIRED' ? `offer ${document.code} (${file}): retired at ${o.retiredAt}, unchanged (not sold)` : `offer ${document.code} (${file}) published`);
    } catch (error) {
      if (!(error instanceof GraphCallError)) throw error;
      refusedOffers += 1;
      const [first, ...rest] = refusal(error, undefined);
      out(`offer ${document.code} (${file}): not published: ${first}`);
      for (const line of rest) out(line);
    }
  }
  if (refusedOffers) out(`${refusedOffers} offer(s) not published`);
  let refused = 0;
  for (const { file, document } of loaded.plans) {
    try {
      const r = await call<{ importPlan: { created: boolean; version: { version: number; effectiveFrom: string } } }>(
        'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { version effectiveFrom } } }',
        { i: { document, ...(options.effectiveFrom ? { effectiveFrom: options.effectiveFrom } : {}) } },
      );
      const v = r.importPlan.version;
      out(`plan ${document.code} (${file}): ${r.importPlan.created ? `published as version ${v.version}, effective ${v.effectiveFrom}` : `unchanged (version ${v.version})`}`);
    } catch (error) {
      if (!(error instanceof GraphCallError)) throw error;
      refused += 1;
      const [first, ...rest] = refusal(error, options.effectiveFrom);
      out(`plan ${document.code} (${file}): not published: ${first}`);
      for (const line of rest) out(line);
    }
  }
  if (refused) out(`${refused} plan(s) not published`);
  return refused || refusedOffers ? 1 : 0;
}

/** retire-offer: takes an add-on offer off sale through the gateway (retireOffer); the refusal's message and code, exit 1. */
async function retireOffer(code: string, reason: string): Promise<number> {
  const call = await graphClient();
  try {
    const r = await call<{ retireOffer: { offer: { code: string; retiredAt: string; retiredReason: string } } }>(
      'mutation($i: RetireOfferInput!) { retireOffer(input: $i) { offer { code retiredAt retiredReason } } }',
      { i: { code, reason } },
    );
    const o = r.retireOffer.offer;
    out(`offer ${o.code} retired at ${o.retiredAt}: ${o.retiredReason}`);
    out('it is no longer sold or offered; add-ons bought before run until they lapse; its file in catalog/offers publishes as unchanged');
    return 0;
  } catch (error) {
    if (!(error instanceof GraphCallError)) throw error;
    for (const line of refusal(error, undefined)) out(`offer ${code} not retired: ${line}`);
    return 1;
  }
}

export function registerCatalogCommands(program: Command): void {
  const catalog = program.command('catalog').description('The catalog as code: validate, diff, simulate and publish catalog/ files; retire an add-on offer.');
  catalog
    .command('validate [paths...]')
    .description('Validate plan and offer files (default: the whole catalog/ directory); exits 1 listing every problem with its JSON pointer.')
    .action(async (paths: string[]) => {
      process.exitCode = await validate(paths);
    });
  catalog
    .command('diff <file> [other]')
    .description('JSON Patch between two plan files, or between the published version and a file.')
    .action(async (file: string, other?: string) => {
      process.exitCode = await diff(file, other);
    });
  catalog
    .command('simulate <planFile>')
    .description('Rate usage records with a plan file locally: rules fired, allowance and charge per record.')
    .option('--usage <file>', 'usage records (JSON with "events" and optional "subscriber")', path.join(DEFAULT_DIR, 'samples', 'usage.json'))
    .option('--compare <files...>', 'other plan files to compare the total with')
    .action(async (planFile: string, options: { usage: string; compare?: string[] }) => {
      process.exitCode = await simulateCommand(planFile, options);
    });
  catalog
    .command('publish [dir]')
    .description('Publish every offer and plan of a catalog directory through the gateway (idempotent). A plan the catalog refuses is shown with its reason; the others are still published; exit 1.')
    .option('--effective-from <date-time>', 'when the plans published take effect (RFC 3339 with an offset, e.g. 2026-05-01T00:00:00Z; default now): after any version already scheduled', effectiveFromOption)
    .action(async (dir: string | undefined, options: { effectiveFrom?: string }) => {
      process.exitCode = await publish(dir ?? DEFAULT_DIR, options);
    });
  catalog
    .command('retire-offer <code>')
    .description('Take an add-on offer off sale (retireOffer): no longer sold or offered as an upsell; add-ons bought before run until they lapse. Exit 1 with the reason if refused.')
    .requiredOption('--reason <text>', 'why it is no longer sold (1 to 500 characters; kept in the audit trail and the event)')
    .action(async (code: string, options: { reason: string }) => {
      process.exitCode = await retireOffer(code, options.reason);
    });
}
