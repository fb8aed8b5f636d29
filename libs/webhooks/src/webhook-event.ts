// Serialization of webhook event bodies (CONTRACT.md "Webhooks"); the event names and body type live in
// @step1x/contracts (webhook-events.ts).
import type { WebhookEventType } from '@step1x/contracts';

/**
 * The body `{ type, timestamp, data }` of one event, serialized once when the event happens: every retry sends
 * these exact bytes, which the signature covers.
 */
export function serializeWebhookEvent<TData>(type: WebhookEventType, data: TData, occurredAt: Date): string {
  return JSON.stringify({ type, timestamp: occurredAt.toISOString(), data });
}
