/**
 * The migration that backs "one open draft per plan" with a partial unique index must apply to a
 * database written before it, where the race left several open drafts of a plan: the oldest stays,
 * the others are removed with a DRAFT_DISCARDED audit entry that keeps their document, and the index
 * then refuses a second open draft. On PostgreSQL and on SQLite (same SQL).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dropSchema, openDatabase, TEST_DATABASE_URL } from '@ledgerline/platform';
import { entities } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-catalog-migration-'));
const schema = `t_${Date.now().toString(16)}_catalog_mig`;
afterAll(async () => {
  await dropSchema(schema);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe.each([
  ['PostgreSQL', { databaseUrl: TEST_DATABASE_URL, sqlitePath: '' }],
  ['SQLite', { databaseUrl: undefined, sqlitePath: path.join(dataDir, 'catalog.sqlite') }],
])('the one-open-draft migration on %s', (_name, where) => {
  const open = (list: typeof migrations) => openDatabase({ service: 'catalog', schema, entities, migrations: list, ...where });

  it('keeps the oldest of several open drafts, records the others, then refuses a second draft', async () => {
    const before = await open(migrations.slice(0, 1));
    const knex = before.em.getKnex();
    const t = (minute: number) => new Date(Date.UTC(2026, 2, 1, 9, minute));
    await knex('plan').insert({ id: 'plan_1', code: 'P1', name: 'P1', status: 'PUBLISHED', payment_mode: 'PREPAID', currency: 'EUR', latest_version: 1, created_at: t(0) });
    const version = (id: string, status: string, minute: number, name: string) => ({
      id,
      plan_id: 'plan_1',
      version: status === 'DRAFT' ? null : 1,
      status,
      content_hash: id,
      document: JSON.stringify({ code: 'P1', name }),
      created_at: t(minute),
      updated_at: t(minute),
    });
    await knex('plan_version').insert([version('pv_pub', 'PUBLISHED', 1, 'v1'), version('pv_b', 'DRAFT', 3, 'Bob'), version('pv_a', 'DRAFT', 2, 'Alice'), version('pv_c', 'DRAFT', 4, 'Carol')]);
    await before.close();

    const after = await open(migrations);
    const k = after.em.getKnex();
    try {
      const left = await k('plan_version').select('id', 'status').orderBy('id');
      expect(left).toEqual([
        { id: 'pv_a', status: 'DRAFT' },
        { id: 'pv_pub', status: 'PUBLISHED' },
      ]);
      const audit = await k('plan_audit').select('plan_version_id', 'action', 'actor_role', 'diff').orderBy('plan_version_id');
      expect(audit.map((a: { plan_version_id: string; action: string; actor_role: string }) => [a.plan_version_id, a.action, a.actor_role])).toEqual([
        ['pv_b', 'DRAFT_DISCARDED', 'SYSTEM'],
        ['pv_c', 'DRAFT_DISCARDED', 'SYSTEM'],
      ]);
      expect(JSON.parse(audit[0].diff)).toEqual([{ op: 'replace', path: '', value: { code: 'P1', name: 'Bob' } }]);
      await expect(k('plan_version').insert(version('pv_d', 'DRAFT', 5, 'Dave'))).rejects.toThrow(/unique/i);
      // A published version next to the open draft is fine.
      await k('plan_version').insert({ ...version('pv_pub2', 'PUBLISHED', 6, 'v2'), version: 2 });
    } finally {
      await after.close();
    }
  });
});
