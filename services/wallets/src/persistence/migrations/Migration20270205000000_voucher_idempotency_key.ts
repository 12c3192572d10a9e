import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * issueVoucher takes an idempotency key: a voucher remembers who issued it (`issued_by`: role:subject of the signed
 * caller), under which key, and its request's fingerprint; one voucher per issuer and key. Vouchers issued before
 * have none of them.
 */
export class Migration20270205000000_voucher_idempotency_key extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table voucher add column issued_by text null`,
      `alter table voucher add column idempotency_key varchar(200) null`,
      `alter table voucher add column request_hash char(64) null`,
      `create unique index voucher_issuer_key_idx on voucher (issued_by, idempotency_key) where idempotency_key is not null`,
    ];
  }
}
