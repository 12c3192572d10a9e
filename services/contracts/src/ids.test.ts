import { describe, expect, it } from 'vitest';
import { deterministicId, ID_PREFIX, newId, type IdKind } from './ids';

describe('deterministicId', () => {
  // These ids are stored (usage records, message ids): the same parts must give the same id in
  // every release, or a redelivered event after an upgrade would be taken for a new one.
  it('is the first 32 hex digits of SHA-256 over the parts joined by U+001F, after the kind prefix', () => {
    expect(deterministicId('usageRecord', 'cdr-feed', 'ev-1')).toBe('usg_aacd5084e4cb53f7206f7c323764063b');
    expect(deterministicId('usageRecord', 'cdr-feed', 'ev-2')).not.toBe(deterministicId('usageRecord', 'cdr-feed', 'ev-1'));
  });
});

describe('newId', () => {
  // Invoicing's and wallets' documents and rows: these prefixes are in stored ids (and in tests and operators'
  // queries), so each kind keeps the exact prefix it was made with before it had a kind of its own
  // (newId('invoice').replace('inv_', 'cn_') and the like).
  it.each([
    ['creditNote', 'cn'],
    ['refund', 'ref'],
    ['receipt', 'rct'],
    ['accountCreditEntry', 'crd'],
    ['dispute', 'dsp'],
    ['approvalRequest', 'apr'],
    ['invoiceLine', 'inl'],
    ['balanceAdjustment', 'adj'],
    ['balanceAdjustmentRequest', 'adr'],
    ['recharge', 'rch'],
    ['voucher', 'vou'],
    ['reservation', 'rsv'],
    ['budget', 'bud'],
    ['walletPayout', 'pyo'],
    ['spendAlert', 'spa'],
    ['invoice', 'inv'],
    ['payment', 'pay'],
  ] as [IdKind, string][])('%s ids are %s_ and 32 hex digits', (kind, prefix) => {
    expect(newId(kind)).toMatch(new RegExp(`^${prefix}_[0-9a-f]{32}$`));
  });

  it('no two kinds share a prefix', () => {
    const prefixes = Object.values(ID_PREFIX);
    expect(new Set(prefixes).size).toBe(prefixes.length);
  });
});
