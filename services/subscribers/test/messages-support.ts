import type { Harness } from './support';

/** A customer message as stored (communication_message), for tests of the notifying consumers. */
export interface MessageRow {
  channel: string;
  receiver: string;
  template: string;
  subject: string;
  content: string;
  state: string;
}

/** The messages an event caused, one per channel. */
export const messagesOfEvent = (h: Harness, eventId: string): Promise<MessageRow[]> =>
  h.rows<MessageRow>(`select channel, receiver, template, subject, content, state from communication_message where source_event_id = $1 order by channel`, [eventId]);

/** Waits until the event's messages are stored and all SENT (the consumer and the sender run on their own). */
export async function sentForEvent(h: Harness, eventId: string, ms = 10_000): Promise<MessageRow[]> {
  const until = Date.now() + ms;
  for (;;) {
    const rows = await messagesOfEvent(h, eventId);
    if (rows.length && rows.every((r) => r.state === 'SENT')) return rows;
    if (Date.now() > until) throw new Error(`no message sent for event ${eventId} (stored: ${JSON.stringify(rows)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
