/**
 * `ledgerline catalog retire-offer <code> --reason <text>`: the catalog's retireOffer had no CLI verb
 * (GraphQL only), and `catalog publish` stopped at the first offer the catalog refused, with a bare
 * error: once an offer was retired, editing its file in catalog/offers broke every later publish of
 * the whole catalog. Now the verb retires it (again: the same answer), a refusal is printed with its
 * code and exits 1, and publish shows a retired offer as unchanged, or a changed one as refused with
 * the others still published.
 *
 * The CLI runs as users run it against the real catalog service behind a stand-in gateway
 * (catalog-behind-gateway.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '@ledgerline/platform';
import { repoRoot, startCatalogBehindGateway, type CatalogBehindGateway } from './catalog-behind-gateway';

let env: CatalogBehindGateway;
const clock = new ManualClock(new Date('2026-03-01T09:00:00Z'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-retire-'));
const boostFile = path.join(dir, 'offers', 'data-boost-5gb.json');

beforeAll(async () => {
  env = await startCatalogBehindGateway(clock);
  fs.mkdirSync(path.join(dir, 'plans'));
  fs.cpSync(path.join(repoRoot, 'catalog/offers'), path.join(dir, 'offers'), { recursive: true });
});
afterAll(async () => env?.close());

async function offerStatus(code: string): Promise<{ status: string; retiredReason: string | null; price: string }> {
  const r = await env.svc.request(`query($c: String!) { offer(code: $c) { status retiredReason price { amount } } }`, { c: code });
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  return { ...r.data.offer, price: r.data.offer.price.amount };
}

describe('ledgerline catalog retire-offer', () => {
  it('retires an offer once, says what it means, and publish then shows it unchanged or refuses a changed file, publishing the others', async () => {
    const published = await env.cli('catalog', 'publish', dir);
    expect(published.status, published.stderr).toBe(0);
    expect(published.stdout).toContain('offer DATA_BOOST_5GB (offers/data-boost-5gb.json) published');

    clock.advance(60_000);
    const retired = await env.cli('catalog', 'retire-offer', 'DATA_BOOST_5GB', '--reason', 'Replaced by DATA_BOOST_10GB');
    expect(retired.status, retired.stderr).toBe(0);
    expect(retired.stdout).toContain('offer DATA_BOOST_5GB retired at 2026-03-01T09:01:00.000Z: Replaced by DATA_BOOST_10GB');
    expect(await offerStatus('DATA_BOOST_5GB')).toEqual({ status: 'RETIRED', retiredReason: 'Replaced by DATA_BOOST_10GB', price: '5' });

    // Again (a retried script): the same answer, the first reason kept. And the file unchanged:
    // publish goes through and says the offer is retired. Neither changes the retired offer, so the
    // two run side by side (each CLI run takes seconds).
    clock.advance(60_000);
    const [again, unchanged] = await Promise.all([env.cli('catalog', 'retire-offer', 'DATA_BOOST_5GB', '--reason', 'second try'), env.cli('catalog', 'publish', dir)]);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('offer DATA_BOOST_5GB retired at 2026-03-01T09:01:00.000Z: Replaced by DATA_BOOST_10GB');
    expect(await offerStatus('DATA_BOOST_5GB')).toEqual({ status: 'RETIRED', retiredReason: 'Replaced by DATA_BOOST_10GB', price: '5' });

    expect(unchanged.status, unchanged.stdout).toBe(0);
    expect(unchanged.stdout).toContain('offer DATA_BOOST_5GB (offers/data-boost-5gb.json): retired at 2026-03-01T09:01:00.000Z, unchanged (not sold)');

    // The file edited: that offer is refused, named, the other still published, exit 1.
    const doc = JSON.parse(fs.readFileSync(boostFile, 'utf8'));
    fs.writeFileSync(boostFile, JSON.stringify({ ...doc, price: '4.00' }));
    const changed = await env.cli('catalog', 'publish', dir);
    expect(changed.status).toBe(1);
    expect(changed.stdout).toMatch(/^offer DATA_BOOST_5GB \(offers\/data-boost-5gb\.json\): not published: Offer DATA_BOOST_5GB was retired at .* \[OFFER_RETIRED\]$/m);
    expect(changed.stdout).toContain('offer ROAM_WORLD_PASS_7D (offers/roam-world-pass-7d.json) published');
    expect(changed.stdout).toMatch(/^1 offer\(s\) not published$/m);
    expect((await offerStatus('DATA_BOOST_5GB')).price).toBe('5');
  });

  it('prints the refusal with its code and exits 1: an unknown offer, a blank reason; no --reason is refused before anything is sent', async () => {
    // Three runs that retire nothing, side by side.
    const [unknown, blank, missing] = await Promise.all([
      env.cli('catalog', 'retire-offer', 'NO_SUCH_OFFER', '--reason', 'typo'),
      env.cli('catalog', 'retire-offer', 'ROAM_WORLD_PASS_7D', '--reason', '   '),
      env.cli('catalog', 'retire-offer', 'ROAM_WORLD_PASS_7D'),
    ]);
    expect(unknown.status).toBe(1);
    expect(unknown.stdout).toMatch(/^offer NO_SUCH_OFFER not retired: .*NO_SUCH_OFFER.* \[\w*NOT_FOUND\]$/m);

    expect(blank.status).toBe(1);
    expect(blank.stdout).toMatch(/^offer ROAM_WORLD_PASS_7D not retired: .* \[REASON_REQUIRED\]$/m);
    expect((await offerStatus('ROAM_WORLD_PASS_7D')).status).toBe('ACTIVE');

    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("required option '--reason <text>' not specified");
    expect(missing.sent).toBe(0);
  });
});
