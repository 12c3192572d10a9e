import { describe, expect, it } from 'vitest';
import { migrateUp } from './database';

const RACED = 'select table_name, table_schema as schema_name, … from information_schema.tables where … order by table_name - schema "t_74c30924_invoicing" does not exist';

/** A migrator whose `up` fails with each of `errors` in turn, then succeeds. */
function migrator(...errors: string[]) {
  let calls = 0;
  const up = async () => {
    calls++;
    if (calls <= errors.length) throw new Error(errors[calls - 1]);
  };
  return { orm: { getMigrator: () => ({ up }) } as never, calls: () => calls };
}

describe('migrating while another client drops a schema', () => {
  it('tries again when the table listing raced a dropped schema', async () => {
    const m = migrator(RACED);
    await migrateUp(m.orm);
    expect(m.calls()).toBe(2);
  });

  it('gives up after three listings, and never retries any other failure', async () => {
    const thrice = migrator(RACED, RACED, RACED);
    await expect(migrateUp(thrice.orm)).rejects.toThrow(/does not exist/);
    expect(thrice.calls()).toBe(3);
    const other = migrator('relation "invoice" does not exist'); // a migration's own statement: not the listing
    await expect(migrateUp(other.orm)).rejects.toThrow(/invoice/);
    expect(other.calls()).toBe(1);
  });
});
