import type { Readable } from 'node:stream';
import { Controller, Get, HttpCode, Param, Post, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BearerAuthGuard, Tenant } from '../http/auth.guard';
import { abortSignalFor } from '../edits/edit-request-reader';
import { readIdempotencyKey } from '../edits/idempotency-hash';
import { parseImageEditForm, readImageEditForm } from './image-edit-form';
import { OpenAiImageEditsService } from './image-edits.service';
import { ModelCatalog, type OpenAiModel } from './model-catalog';
import { OpenAiErrorFilter, OpenAiRouteError } from './openai-errors';
import type { OpenAiImagesResponse } from './openai-images';
import { CreateImageEditDoc, GetModelDoc, ListModelsDoc } from './openai-route-docs';

/**
 * The OpenAI-compatible surface (docs/ARCHITECTURE.md "OpenAI-compatible routes"): the official `openai` clients
 * call it unchanged with `baseURL` pointed at `/v1` and one of our API keys. Errors here are in OpenAI's shape.
 */
@ApiTags('openai')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@UseFilters(OpenAiErrorFilter)
@Controller('v1')
export class OpenAiController {
  constructor(
    private readonly images: OpenAiImageEditsService,
    private readonly catalog: ModelCatalog,
  ) {}

  @Post('images/edits')
  @HttpCode(200)
  @CreateImageEditDoc()
  async editImage(
    @Tenant() tenantId: string,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<OpenAiImagesResponse | Readable> {
    const idempotencyKey = readIdempotencyKey(request.headers['idempotency-key']);
    const edit = parseImageEditForm(await readImageEditForm(request), this.catalog);
    const clientGone = abortSignalFor(reply);
    const edits = await this.images.accept(tenantId, edit, idempotencyKey);
    const idempotent = idempotencyKey !== null;
    if (!edit.stream) return this.images.respond(edit, edits, idempotent, clientGone);
    void reply.headers({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    return this.images.stream(edit, edits, idempotent, clientGone);
  }

  @Get('models')
  @ListModelsDoc()
  listModels(): { object: 'list'; data: OpenAiModel[] } {
    return { object: 'list', data: [this.catalog.model] };
  }

  @Get('models/:id')
  @GetModelDoc()
  getModel(@Param('id') id: string): OpenAiModel {
    const model = this.catalog.resolve(id);
    if (!model) {
      throw new OpenAiRouteError(404, 'model_not_found', `The model \`${id}\` does not exist`, { param: 'model' });
    }
    return model;
  }
}
