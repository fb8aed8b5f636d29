import { Controller, Get, Inject, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { WebhookSecretStore } from '@step1x/edit-store';
import { generateWebhookSecret } from '@step1x/webhooks';
import { DEPS } from '../api-deps';
import { BearerAuthGuard, Tenant } from '../http/auth.guard';
import { WebhookSecretDoc } from '../openapi/route-docs';

/** One signing secret per tenant (like Replicate's default secret); created on first read. */
@ApiTags('webhooks')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/webhooks')
export class WebhookSecretController {
  constructor(@Inject(DEPS.webhookSecrets) private readonly secrets: WebhookSecretStore) {}

  @Get('secret')
  @WebhookSecretDoc()
  async secret(@Tenant() tenantId: string): Promise<{ secret: string }> {
    return { secret: await this.secrets.getOrCreate(tenantId, generateWebhookSecret) };
  }
}
