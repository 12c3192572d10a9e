// Development stand-in for the network the worker provisions orders on, so `npm start` runs every
// workflow end to end; a sandbox in the same sense as the sandbox payment provider: replace it with
// the operator's network provisioning (HLR/HSS, PCRF). (Dunning's reminders used to be a log line
// here, LogReminders; they reach the customer through invoicing and subscribers now.)
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { OrderProvisioningRequest, ProvisioningPort } from '../activities/orders';

/** Accepts every order; the network reference is derived from the idempotency key, so retries agree. */
export class SandboxNetworkProvisioning implements ProvisioningPort {
  constructor(private readonly logger: Logger) {}

  async execute(req: OrderProvisioningRequest): Promise<{ networkRef: string }> {
    const networkRef = `net_${createHash('sha256').update(req.idempotencyKey).digest('hex').slice(0, 16)}`;
    this.logger.info({ orderId: req.orderId, kind: req.kind, msisdn: req.msisdn, iccid: req.iccid, previousIccid: req.previousIccid, networkRef }, 'sandbox network: provisioned');
    return { networkRef };
  }

  async compensate(req: OrderProvisioningRequest): Promise<void> {
    this.logger.info({ orderId: req.orderId, kind: req.kind, msisdn: req.msisdn }, 'sandbox network: rolled back');
  }
}
