// Webhook event names and body (CONTRACT.md "Webhooks"). Defined here until libs/contracts owns them
// (style/EXAMPLES.md (c) puts them in libs/contracts/src/webhook-events.ts).

export const WEBHOOK_EVENT_TYPES = ['edit.started', 'edit.progress', 'edit.completed'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The short names clients list in `webhook_events`. */
export type WebhookEventSubscription = 'started' | 'progress' | 'completed';

export interface WebhookEventBody<TData> {
  type: WebhookEventType;
  /** ISO-8601 UTC time of the event (not of the delivery attempt). */
  timestamp: string;
  data: TData;
}

/** `started` → `edit.started`. */
export function eventTypeFor(subscription: WebhookEventSubscription): WebhookEventType {
  return `edit.${subscription}`;
}

/**
 * Whether an edit subscribed to `subscriptions` gets `type`. `edit.completed` is always sent (CONTRACT.md:
 * "`completed` always sent").
 */
export function isSubscribed(type: WebhookEventType, subscriptions: readonly WebhookEventSubscription[]): boolean {
  return type === 'edit.completed' || subscriptions.some((subscription) => eventTypeFor(subscription) === type);
}

/**
 * The body of one event, serialized once when the event happens: every retry sends these exact bytes (the
 * signature covers them).
 */
export function serializeWebhookEvent<TData>(type: WebhookEventType, data: TData, occurredAt: Date): string {
  const body: WebhookEventBody<TData> = { type, timestamp: occurredAt.toISOString(), data };
  return JSON.stringify(body);
}
