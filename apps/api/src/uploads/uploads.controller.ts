import { Body, Controller, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ApiError, ErrorCode, parseOrThrow, uploadRequestSchema, type UploadTicket } from '@step1x/contracts';
import { BearerAuthGuard, Tenant } from '../http/auth.guard';
import { CreateUploadDoc } from '../openapi/route-docs';
import { UploadsService } from './uploads.service';

@ApiTags('uploads')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/uploads')
export class UploadsController {
  constructor(private readonly uploads: UploadsService) {}

  @Post()
  @CreateUploadDoc()
  create(@Tenant() tenantId: string, @Req() request: FastifyRequest, @Body() body: unknown): Promise<UploadTicket> {
    if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) {
      throw new ApiError(ErrorCode.UnsupportedMediaType, 'send application/json');
    }
    return this.uploads.createTicket(tenantId, parseOrThrow(uploadRequestSchema, body));
  }
}
