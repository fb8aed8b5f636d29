import { Controller, Get, HttpCode, Inject, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  listEditsQuerySchema,
  parseEditRequest,
  parseOrThrow,
  type EditList,
  type EditObject,
} from '@step1x/contracts';
import type { AppConfig } from '@step1x/config';
import { DEPS } from '../api-deps';
import { BearerAuthGuard, Tenant } from '../http/auth.guard';
import { ApiKeyId, RateLimits } from '../rate-limits/rate-limits.service';
import { CancelEditDoc, CreateEditDoc, GetEditDoc, ListEditsDoc } from '../openapi/route-docs';
import { abortSignalFor, readEditRequestBody } from './edit-request-reader';
import { EditsService } from './edits.service';
import { readIdempotencyKey } from './idempotency-hash';
import { parsePreferWait } from './prefer-wait';

@ApiTags('edits')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/edits')
export class EditsController {
  constructor(
    private readonly edits: EditsService,
    @Inject(DEPS.config) private readonly config: AppConfig,
    private readonly rateLimits: RateLimits,
  ) {}

  @Post()
  @CreateEditDoc()
  async create(
    @Tenant() tenantId: string,
    @ApiKeyId() apiKeyId: string,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<EditObject> {
    // RATE_LIMIT_EDITS_PER_MIN, counted before the body is read (a refusal costs nothing) and given back when no
    // edit comes of the request; docs/ARCHITECTURE.md "Rate limits".
    await this.rateLimits.consumeEdits(apiKeyId, tenantId, 1, reply);
    try {
      return await this.accept(tenantId, request, reply);
    } catch (error) {
      await this.rateLimits.refundEdits(apiKeyId, 1, reply).catch(() => undefined);
      throw error;
    }
  }

  private async accept(tenantId: string, request: FastifyRequest, reply: FastifyReply): Promise<EditObject> {
    const idempotencyKey = readIdempotencyKey(request.headers['idempotency-key']);
    const wait = parsePreferWait(request.headers.prefer, this.config.limits.preferWaitMaxS);
    const { body, upload } = await readEditRequestBody(request);
    const result = await this.edits.create({
      tenantId,
      request: parseEditRequest(body, upload !== null),
      upload,
      idempotencyKey,
      waitSeconds: wait?.seconds ?? null,
      signal: abortSignalFor(reply),
    });
    void reply.status(result.statusCode).header('Location', `/v1/edits/${result.edit.id}`);
    if (wait) void reply.header('Preference-Applied', wait.applied);
    return result.edit;
  }

  @Get()
  @ListEditsDoc()
  list(@Tenant() tenantId: string, @Query() query: Record<string, unknown>): Promise<EditList<EditObject>> {
    return this.edits.list(tenantId, parseOrThrow(listEditsQuerySchema, query ?? {}));
  }

  @Get(':id')
  @GetEditDoc()
  get(@Tenant() tenantId: string, @Param('id') editId: string): Promise<EditObject> {
    return this.edits.get(tenantId, editId);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @CancelEditDoc()
  cancel(@Tenant() tenantId: string, @Param('id') editId: string): Promise<EditObject> {
    return this.edits.cancel(tenantId, editId);
  }
}
