// Development stand-ins for two external systems the worker talks to, so `npm start` runs every
// workflow end to end. Both are sandboxes in the same sense as the sandbox payment provider:
// replace them with the operator's network provisioning (HLR/HSS, PCRF) and notification gateway.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { OrderProvisioningRequest, ProvisioningPort } from '../activities/orders';
import type { ReminderRequest, RemindersPort } from '../activities/invoicing';

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

/** Writes each dunning reminder as a structured log line (one per idempotency key). */
export class LogReminders implements RemindersPort {
  private readonly sent = new Set<string>();
  constructor(private readonly logger: Logger) {}

  async sendReminder(req: ReminderRequest): Promise<void> {
    if (this.sent.has(req.idempotencyKey)) return;
    this.sent.add(req.idempotencyKey);
    this.logger.info({ invoiceId: req.invoiceId, billingAccountId: req.billingAccountId, level: req.level }, 'dunning reminder sent (sandbox channel: log)');
  }
}
