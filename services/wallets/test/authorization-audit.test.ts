/**
 * Authorization audit (with invoicing's): reads and actions by id (`wallet`, `reservation`,
 * `recharge`, the Wallet entity reference, `setAutoTopup`) refuse a caller who may act on no
 * account here - a PARTNER, a customer token without a customer id - whether or not the row exists.
 *
 * Found: they looked the row up first and checked the caller only when there was one, so such a
 * caller got null (or NOT_FOUND) for an unknown id and FORBIDDEN for a real one: an oracle of which
 * wallet, reservation and recharge ids exist. (An anonymous caller was already refused first.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { openPrepaid, startWallets } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => {
  await svc?.close();
});

const PARTNER: Caller = { role: 'PARTNER', subject: 'crm', partnerId: 'prt_1', scopes: [] };
const NO_CUSTOMER_ID: Caller = { role: 'CUSTOMER', subject: 'x', scopes: [] };

const BY_ID = {
  wallet: `query($id: ID!) { wallet(id: $id) { id } }`,
  reservation: `query($id: ID!) { reservation(id: $id) { id } }`,
  recharge: `query($id: ID!) { recharge(id: $id) { id } }`,
  entity: `query($id: ID!) { _entities(representations: [{ __typename: "Wallet", id: $id }]) { ... on Wallet { id } } }`,
  setAutoTopup: `mutation($id: ID!) { setAutoTopup(input: { walletId: $id, enabled: false, threshold: "5", topupAmount: "10", paymentMethodToken: "sandbox_approve" }) { wallet { id } } }`,
} as const;

const code = (r: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => r.errors?.[0]?.extensions?.code ?? null;

describe('authorization audit: wallets', () => {
  it('a partner and a customer token without a customer id are refused by id, for a real wallet and an unknown id alike', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '10.00' });
    const answers: Record<string, unknown> = {};
    for (const [name, caller] of [['partner', PARTNER], ['noCustomerId', NO_CUSTOMER_ID]] as const) {
      for (const [field, query] of Object.entries(BY_ID)) {
        const real = field === 'wallet' || field === 'entity' || field === 'setAutoTopup' ? await svc.request(query, { id: walletId }, caller) : null;
        const unknown = await svc.request(query, { id: `${field}_unknown_0000` }, caller);
        answers[`${name}.${field}`] = [real && code(real), code(unknown)];
      }
    }
    expect(answers).toEqual({
      'partner.wallet': ['FORBIDDEN', 'FORBIDDEN'],
      'partner.reservation': [null, 'FORBIDDEN'],
      'partner.recharge': [null, 'FORBIDDEN'],
      'partner.entity': ['FORBIDDEN', 'FORBIDDEN'],
      'partner.setAutoTopup': ['FORBIDDEN', 'FORBIDDEN'],
      'noCustomerId.wallet': ['FORBIDDEN', 'FORBIDDEN'],
      'noCustomerId.reservation': [null, 'FORBIDDEN'],
      'noCustomerId.recharge': [null, 'FORBIDDEN'],
      'noCustomerId.entity': ['FORBIDDEN', 'FORBIDDEN'],
      'noCustomerId.setAutoTopup': ['FORBIDDEN', 'FORBIDDEN'],
    });
  });

  it('staff still read an unknown id as null', async () => {
    const agent: Caller = { role: 'AGENT', subject: 'care', scopes: [] };
    const r = await svc.request<any>(`{ wallet(id: "wallet_unknown_0000") { id } reservation(id: "res_unknown_0000") { id } recharge(id: "rch_unknown_0000") { id } }`, {}, agent);
    expect([r.errors, r.data]).toEqual([undefined, { wallet: null, reservation: null, recharge: null }]);
  });
});
