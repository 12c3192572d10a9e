import { PortableMigration } from '@ledgerline/platform';

/**
 * Add-on offers get a lifecycle and an audit trail, as plans have: `status` ACTIVE (sold) or
 * RETIRED (retireOffer: no longer bought or offered; add-ons bought before keep running), when and
 * why it was retired; `offer_audit` records every import (CREATED / UPDATED, as an RFC 6902 patch)
 * and the retirement, with who did it. Same SQL on PostgreSQL and SQLite (the catalog's zero-setup
 * database): the status is checked by the application, not by a constraint SQLite cannot add.
 */
export class Migration20270110100000_offer_lifecycle extends PortableMigration {
  protected override statements(): string[] {
    return [
      `alter table offer add column status varchar(16) not null default 'ACTIVE'`,
      `alter table offer add column retired_at timestamptz null`,
      `alter table offer add column retired_reason varchar(500) null`,
      `create table offer_audit (
        id varchar(40) not null primary key,
        offer_code varchar(80) not null,
        action varchar(32) not null,
        actor varchar(200) not null,
        actor_role varchar(16) not null,
        at timestamptz not null,
        diff text not null
      )`,
      `create index offer_audit_offer_code_index on offer_audit (offer_code)`,
    ];
  }
}
