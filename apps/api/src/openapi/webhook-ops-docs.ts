import { applyDecorators } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiResponse } from '@nestjs/swagger';
import { errors } from './route-docs';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const editId = ApiParam({ name: 'id', description: 'edit id (`edit_<ulid>`)' });

export const ListEditDeliveriesDoc = () =>
  applyDecorators(
    ApiOperation({
      summary: "Every webhook delivery attempt of an edit's events, oldest first",
      description: 'One entry per attempt: a retry or a replay of one event keeps its `webhook_id`.',
    }),
    editId,
    ApiResponse({ status: 200, schema: ref('DeliveryList') }),
    ...errors('not_found'),
  );

export const ListBatchDeliveriesDoc = () =>
  applyDecorators(
    ApiOperation({
      summary: "Every webhook delivery attempt of a batch's own events (`batch.progress`, `batch.completed`)",
      description: "Items' own events are listed under each edit (`GET /v1/edits/{id}/deliveries`).",
    }),
    ApiParam({ name: 'id', description: 'batch id (`batch_<ulid>`)' }),
    ApiResponse({ status: 200, schema: ref('DeliveryList') }),
    ...errors('not_found'),
  );

export const ReplayEditWebhookDoc = () =>
  applyDecorators(
    ApiOperation({
      summary: 'Send the last `edit.completed` again',
      description:
        'Queues one more attempt of the same message (same `webhook-id`), even after its retries were spent; it ' +
        'is signed with the current secret(s) and carries an output URL signed at that attempt. Not retried when ' +
        'it fails (replay again). 409 `not_replayable` when the edit has no webhook URL or no `edit.completed` ' +
        'was sent yet.',
    }),
    editId,
    ApiResponse({ status: 202, schema: ref('WebhookReplay') }),
    ...errors('not_found', 'not_replayable'),
  );

export const RotateWebhookSecretDoc = () =>
  applyDecorators(
    ApiOperation({
      summary: 'Rotate the webhook signing secret',
      description:
        'Returns the new secret. Until `previous_expires_at` (WEBHOOK_SECRET_OVERLAP_S, default 24 h) every ' +
        'delivery carries two signatures, `v1,<new> v1,<old>`, so receivers can switch at any time in between. ' +
        '`previous_expires_at` is null when there was no secret before.',
    }),
    ApiResponse({ status: 200, schema: ref('WebhookSecretRotation') }),
    ...errors(),
  );
