import { Controller, Get, HttpCode, Inject, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  ApiError,
  ErrorCode,
  listBatchesQuerySchema,
  listEditsQuerySchema,
  parseBatchRequest,
  parseOrThrow,
  parseUsageQuery,
  type BatchObject,
  type EditList,
  type EditObject,
  type UsageDay,
} from '@step1x/contracts';
import type { AppConfig } from '@step1x/config';
import { DEPS } from '../api-deps';
import { readIdempotencyKey } from '../edits/idempotency-hash';
import { BearerAuthGuard, Tenant } from '../http/auth.guard';
import {
  CancelBatchDoc,
  CreateBatchDoc,
  GetBatchDoc,
  GetUsageDoc,
  ListBatchEditsDoc,
  ListBatchesDoc,
} from '../openapi/batch-route-docs';
import { ApiKeyId, RateLimits } from '../rate-limits/rate-limits.service';
import { ListBatchDeliveriesDoc } from '../openapi/webhook-ops-docs';
import { WebhookDeliveries, type DeliveryView } from '../webhooks/webhook-deliveries.service';
import { BatchesService } from './batches.service';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

@ApiTags('batches')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/batches')
export class BatchesController {
  constructor(
    private readonly batches: BatchesService,
    @Inject(DEPS.config) private readonly config: AppConfig,
    private readonly rateLimits: RateLimits,
    private readonly webhookDeliveries: WebhookDeliveries,
  ) {}

  @Post()
  @CreateBatchDoc()
  async create(
    @Tenant() tenantId: string,
    @ApiKeyId() apiKeyId: string,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<BatchObject> {
    if (!JSON_TYPE.test(request.headers['content-type'] ?? '')) {
      throw new ApiError(ErrorCode.UnsupportedMediaType, 'send the batch as application/json');
    }
    const idempotencyKey = readIdempotencyKey(request.headers['idempotency-key']);
    const parsed = parseBatchRequest(request.body, this.config.batches.maxItems);
    // RATE_LIMIT_EDITS_PER_MIN: every item counts as one edit; given back when the batch is not accepted.
    const items = parsed.items.length;
    await this.rateLimits.consumeEdits(apiKeyId, tenantId, items, reply);
    let result: Awaited<ReturnType<BatchesService['create']>>;
    try {
      result = await this.batches.create({ tenantId, request: parsed, idempotencyKey });
    } catch (error) {
      await this.rateLimits.refundEdits(apiKeyId, items, reply).catch(() => undefined);
      throw error;
    }
    void reply.status(result.statusCode).header('Location', `/v1/batches/${result.batch.id}`);
    return result.batch;
  }

  @Get()
  @ListBatchesDoc()
  list(@Tenant() tenantId: string, @Query() query: Record<string, unknown>): Promise<EditList<BatchObject>> {
    return this.batches.list(tenantId, parseOrThrow(listBatchesQuerySchema, query ?? {}));
  }

  @Get(':id')
  @GetBatchDoc()
  get(@Tenant() tenantId: string, @Param('id') batchId: string): Promise<BatchObject> {
    return this.batches.get(tenantId, batchId);
  }

  @Get(':id/edits')
  @ListBatchEditsDoc()
  edits(
    @Tenant() tenantId: string,
    @Param('id') batchId: string,
    @Query() query: Record<string, unknown>,
  ): Promise<EditList<EditObject>> {
    return this.batches.listEdits(tenantId, batchId, parseOrThrow(listEditsQuerySchema, query ?? {}));
  }

  @Get(':id/deliveries')
  @ListBatchDeliveriesDoc()
  async deliveries(@Tenant() tenantId: string, @Param('id') batchId: string): Promise<{ data: DeliveryView[] }> {
    await this.batches.get(tenantId, batchId); // 404 for an unknown or another tenant's batch
    return this.webhookDeliveries.list({ kind: 'batch', id: batchId });
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @CancelBatchDoc()
  cancel(@Tenant() tenantId: string, @Param('id') batchId: string): Promise<BatchObject> {
    return this.batches.cancel(tenantId, batchId);
  }
}

@ApiTags('usage')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/usage')
export class UsageController {
  constructor(private readonly batches: BatchesService) {}

  @Get()
  @GetUsageDoc()
  usage(@Tenant() tenantId: string, @Query() query: Record<string, unknown>): Promise<{ data: UsageDay[] }> {
    return this.batches.usage(tenantId, parseUsageQuery(query));
  }
}
