import type { Provider } from '@nestjs/common';
import type { AppConfig } from '@step1x/config';
import { DEPS } from '../api-deps';
import { EDIT_PROGRESS_SOURCE, PollingEditProgressSource } from './edit-progress-source';
import { OpenAiImageEditsService } from './image-edits.service';
import { ModelCatalog } from './model-catalog';
import { OpenAiController } from './openai.controller';

/** The OpenAI-compatible routes' controller and providers, registered by ApiModule. */
export const OPENAI_CONTROLLERS = [OpenAiController];
export const OPENAI_PROVIDERS: Provider[] = [
  OpenAiImageEditsService,
  { provide: ModelCatalog, useFactory: (config: AppConfig) => ModelCatalog.fromConfig(config), inject: [DEPS.config] },
  // The one place to swap in the per-edit event stream once previews land (edit-progress-source.ts).
  { provide: EDIT_PROGRESS_SOURCE, useClass: PollingEditProgressSource },
];
