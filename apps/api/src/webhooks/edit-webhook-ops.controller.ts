import { Controller, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { BearerAuthGuard, Tenant } from '../http/auth.guard';
import { ListEditDeliveriesDoc, ReplayEditWebhookDoc } from '../openapi/webhook-ops-docs';
import { WebhookDeliveries, type DeliveryView, type ReplayAccepted } from './webhook-deliveries.service';

/** Webhook operations on one edit (CONTRACT.md "Webhook operations"); another tenant's edit is 404. */
@ApiTags('webhooks')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/edits')
export class EditWebhookOpsController {
  constructor(private readonly deliveries: WebhookDeliveries) {}

  @Get(':id/deliveries')
  @ListEditDeliveriesDoc()
  list(@Tenant() tenantId: string, @Param('id') editId: string): Promise<{ data: DeliveryView[] }> {
    return this.deliveries.listForEdit(tenantId, editId);
  }

  @Post(':id/webhooks/replay')
  @HttpCode(202)
  @ReplayEditWebhookDoc()
  replay(@Tenant() tenantId: string, @Param('id') editId: string): Promise<ReplayAccepted> {
    return this.deliveries.replayCompleted(tenantId, editId);
  }
}
