import { conflict, newId, notFound } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { BillingAccount, Line } from '../persistence/entities';
import { normalizeMsisdn } from '../domain/validation';

export interface AddLineCommand {
  billingAccountId: string;
  msisdn: string;
  planCode?: string | null;
  now: Date;
}

export async function addLine(em: Em, c: AddLineCommand): Promise<Line> {
  const msisdn = normalizeMsisdn(c.msisdn);
  const account = await em.findOne(BillingAccount, { id: c.billingAccountId });
  if (!account) throw notFound('BillingAccount', c.billingAccountId, 'input.billingAccountId');
  if (await em.findOne(Line, { msisdn })) throw conflict('MSISDN_DUPLICATE', `MSISDN ${msisdn} is already in use`, { field: 'input.msisdn' });
  const line = em.create(Line, { id: newId('line'), billingAccountId: account.id, msisdn, status: 'ACTIVE', planCode: c.planCode ?? null, createdAt: c.now });
  enqueueEvent(em, 'lineStateChanged', {
    source: 'ledgerline/subscribers',
    subject: line.id,
    key: [line.id, 'ACTIVE'],
    time: c.now,
    data: { lineId: line.id, msisdn, billingAccountId: account.id, status: 'ACTIVE', planCode: line.planCode },
  });
  await em.flush();
  return line;
}
