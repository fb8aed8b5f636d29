import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { AppConfig } from '@step1x/config';
import { DEPS, type ApiDeps, type Clock } from './api-deps';
import { BatchesController, UsageController } from './batches/batches.controller';
import { BatchesService } from './batches/batches.service';
import { CompletionWebhook } from './edits/completion-webhook';
import { EditEventsController } from './edits/edit-events.controller';
import { EditPresenter } from './edits/edit-presenter';
import { EditsController } from './edits/edits.controller';
import { EditAdmission } from './edits/edit-admission';
import { EditsService } from './edits/edits.service';
import { ImageIntakeService } from './edits/image-intake.service';
import { HealthController } from './health/health.controller';
import { ScalingController } from './internal/scaling.controller';
import { DocsController, OPENAPI_DOCUMENT } from './openapi/docs.controller';
import { BearerAuthGuard } from './http/auth.guard';
import { MetricsRegistry } from './metrics/metrics-registry';
import { OPENAI_CONTROLLERS, OPENAI_PROVIDERS } from './openai/openai.providers';
import { UploadsController } from './uploads/uploads.controller';
import { UploadsService } from './uploads/uploads.service';
import { WebhookSecretController } from './webhooks/webhook-secret.controller';
import { RateLimits } from './rate-limits/rate-limits.service';
import { EditWebhookOpsController } from './webhooks/edit-webhook-ops.controller';
import { WebhookDeliveries } from './webhooks/webhook-deliveries.service';

/** Registries are plain arrays (style (a)): every controller and service of the API, in one place. */
export const API_CONTROLLERS = [
  EditsController,
  UploadsController,
  WebhookSecretController,
  EditWebhookOpsController,
  HealthController,
  ScalingController,
  DocsController,
  BatchesController,
  UsageController,
  EditEventsController,
  ...OPENAI_CONTROLLERS,
];
export const API_SERVICES = [
  EditsService,
  ImageIntakeService,
  EditPresenter,
  CompletionWebhook,
  UploadsService,
  BearerAuthGuard,
  RateLimits,
  WebhookDeliveries,
  BatchesService,
  EditAdmission,
  ...OPENAI_PROVIDERS,
];

export interface ApiModuleOptions {
  config: AppConfig;
  deps: ApiDeps;
  metrics: MetricsRegistry;
  clock: Clock;
  /** Filled once the app exists (the document is built from its routes). */
  openApi: { current: OpenAPIObject | null };
}

@Module({})
export class ApiModule {
  static forRoot({ config, deps, metrics, clock, openApi }: ApiModuleOptions): DynamicModule {
    const ports: Provider[] = [
      { provide: DEPS.config, useValue: config },
      { provide: DEPS.clock, useValue: clock },
      { provide: MetricsRegistry, useValue: metrics },
      { provide: OPENAPI_DOCUMENT, useValue: openApi },
      { provide: DEPS.edits, useValue: deps.edits },
      { provide: DEPS.batches, useValue: deps.batches },
      { provide: DEPS.idempotency, useValue: deps.idempotency },
      { provide: DEPS.apiKeys, useValue: deps.apiKeys },
      { provide: DEPS.webhookSecrets, useValue: deps.webhookSecrets },
      { provide: DEPS.uploads, useValue: deps.uploads },
      { provide: DEPS.jobQueue, useValue: deps.jobQueue },
      { provide: DEPS.cancelBus, useValue: deps.cancelBus },
      { provide: DEPS.objectStore, useValue: deps.objectStore },
      { provide: DEPS.imageFetcher, useValue: deps.imageFetcher },
      { provide: DEPS.urlChecker, useValue: deps.urlChecker },
      { provide: DEPS.imageInspector, useValue: deps.imageInspector },
      { provide: DEPS.readiness, useValue: deps.readiness ?? [] },
      { provide: DEPS.rateLimiter, useValue: deps.rateLimiter },
      { provide: DEPS.deliveries, useValue: deps.deliveries },
      { provide: DEPS.webhookState, useValue: deps.webhookState },
      { provide: DEPS.eventLog, useValue: deps.eventLog ?? null },
      { provide: DEPS.eventStream, useValue: deps.eventStream ?? null },
      {
        provide: DEPS.pingObjectStore,
        useValue: deps.pingObjectStore ?? (async () => void (await deps.objectStore.head('.readyz-probe'))),
      },
    ];
    return { module: ApiModule, controllers: API_CONTROLLERS, providers: [...ports, ...API_SERVICES] };
  }
}
