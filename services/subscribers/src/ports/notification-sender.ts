import { createHmac } from 'node:crypto';
import type { Logger } from '@ledgerline/platform';
import type { Channel } from '../domain/notifications';

export interface OutgoingMessage {
  id: string;
  channel: Channel;
  receiver: string;
  template: string;
  subject: string;
  content: string;
  billingAccountId: string;
  lineId: string | null;
  createdAt: Date;
}

/** Delivers one message on its channel; throws when the channel refused it (we retry). */
export interface NotificationSender {
  send(message: OutgoingMessage): Promise<void>;
}

/** HMAC-SHA256 of the exact body, hex, as sent in `x-ledgerline-signature: sha256=<hex>`. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * Customer webhooks get a signed JSON POST; the message id repeats on retries so a receiver can
 * drop duplicates. SMS, e-mail and push go to `channels` — the development default only logs
 * (no SMS or mail gateway is wired in this repository; an operator implements the port).
 */
export class ChannelRouter implements NotificationSender {
  constructor(
    private readonly options: { webhookSecret: string; logger: Logger; channels?: Partial<Record<Exclude<Channel, 'WEBHOOK'>, NotificationSender>>; timeoutMs?: number },
  ) {}

  async send(message: OutgoingMessage): Promise<void> {
    if (message.channel === 'WEBHOOK') return this.postWebhook(message);
    const channel = this.options.channels?.[message.channel];
    if (channel) return channel.send(message);
    this.options.logger.info({ messageId: message.id, channel: message.channel, receiver: message.receiver, template: message.template }, 'notification handed to the log channel');
  }

  private async postWebhook(message: OutgoingMessage): Promise<void> {
    const body = JSON.stringify({
      id: message.id,
      type: message.template,
      billingAccountId: message.billingAccountId,
      lineId: message.lineId,
      subject: message.subject,
      content: message.content,
      createdAt: message.createdAt.toISOString(),
    });
    const response = await fetch(message.receiver, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-ledgerline-message-id': message.id, 'x-ledgerline-signature': webhookSignature(this.options.webhookSecret, body) },
      body,
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
    });
    if (!response.ok) throw new Error(`webhook answered HTTP ${response.status}`);
  }
}
