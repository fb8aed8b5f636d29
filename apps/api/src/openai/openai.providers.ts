import type { Provider } from '@nestjs/common';
import type { AppConfig } from '@step1x/config';
import type { EditEventStream, EditRepository } from '@step1x/edit-store';
import type { ObjectStore } from '@step1x/storage';
import { DEPS } from '../api-deps';
import { EDIT_PROGRESS_SOURCE, PollingEditProgressSource, type EditProgressSource } from './edit-progress-source';
import { EventStreamEditProgressSource } from './event-stream-progress-source';
import { OpenAiImageEditsService } from './image-edits.service';
import { ModelCatalog } from './model-catalog';
import { OpenAiController } from './openai.controller';

/**
 * Progress of the edits behind POST /v1/images/edits: over the per-edit event stream when the deps have one (the
 * real runtime, api-runtime.ts), so `partial_images` are sent from step previews; by polling the record otherwise
 * (deps without `eventStream`), which yields the final state only.
 */
export function editProgressSourceOf(
  edits: EditRepository,
  stream: EditEventStream | null,
  objects: ObjectStore,
): EditProgressSource {
  const polling = new PollingEditProgressSource(edits);
  return stream ? new EventStreamEditProgressSource(stream, edits, objects, polling) : polling;
}

/** The OpenAI-compatible routes' controller and providers, registered by ApiModule. */
export const OPENAI_CONTROLLERS = [OpenAiController];
export const OPENAI_PROVIDERS: Provider[] = [
  OpenAiImageEditsService,
  { provide: ModelCatalog, useFactory: (config: AppConfig) => ModelCatalog.fromConfig(config), inject: [DEPS.config] },
  {
    provide: EDIT_PROGRESS_SOURCE,
    useFactory: editProgressSourceOf,
    inject: [DEPS.edits, DEPS.eventStream, DEPS.objectStore],
  },
];
