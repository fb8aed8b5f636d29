import { Controller, Get, HttpCode, Inject, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { AppConfig } from '@step1x/config';
import type { WebhookSecretStore } from '@step1x/edit-store';
import { generateWebhookSecret } from '@step1x/webhooks';
import { DEPS } from '../api-deps';
import { BearerAuthGuard, Tenant } from '../http/auth.guard';
import { WebhookSecretDoc } from '../openapi/route-docs';
import { RotateWebhookSecretDoc } from '../openapi/webhook-ops-docs';

/** One signing secret per tenant (like Replicate's default secret); created on first read. */
@ApiTags('webhooks')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/webhooks')
export class WebhookSecretController {
  constructor(
    @Inject(DEPS.webhookSecrets) private readonly secrets: WebhookSecretStore,
    @Inject(DEPS.config) private readonly config: AppConfig,
  ) {}

  @Get('secret')
  @WebhookSecretDoc()
  async secret(@Tenant() tenantId: string): Promise<{ secret: string }> {
    return { secret: await this.secrets.getOrCreate(tenantId, generateWebhookSecret) };
  }

  /** The old secret keeps signing (beside the new one) for WEBHOOK_SECRET_OVERLAP_S; docs/ARCHITECTURE.md. */
  @Post('secret/rotate')
  @HttpCode(200)
  @RotateWebhookSecretDoc()
  async rotate(@Tenant() tenantId: string): Promise<{ secret: string; previous_expires_at: string | null }> {
    const rotated = await this.secrets.rotate(tenantId, generateWebhookSecret(), this.config.webhooks.secretOverlapS);
    return { secret: rotated.secret, previous_expires_at: rotated.previousExpiresAt?.toISOString() ?? null };
  }
}
