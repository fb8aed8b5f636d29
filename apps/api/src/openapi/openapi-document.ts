import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { apiComponentSchemas } from '@step1x/contracts';
import { documentRateLimits } from './rate-limit-docs';
import { documentOpenAiRoutes } from '../openai/openai-route-docs';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/**
 * The OpenAPI document: routes from the controllers' decorators, schemas from `@step1x/contracts` (the same
 * definitions the validation uses), so the document cannot drift from what the API accepts and returns.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Step1X-Edit API')
    .setDescription(
      'Asynchronous image editing. Errors are `{ "error": { "code", "message", "param" } }`. Webhooks follow ' +
        'Standard Webhooks v1 (`edit.started`, `edit.progress`, `edit.completed`; for a batch `batch.completed` ' +
        'and `batch.progress`, with the batch object as `data`).',
    )
    .setVersion('1')
    .addBearerAuth()
    .build();
  const document = SwaggerModule.createDocument(app, config);
  document.openapi = '3.1.0';
  document.components = {
    ...document.components,
    schemas: { ...(document.components?.schemas ?? {}), ...(apiComponentSchemas() as Record<string, object>) },
  };
  const create = document.paths['/v1/edits']?.post;
  if (create) {
    create.requestBody = {
      required: true,
      content: {
        'application/json': { schema: ref('CreateEditRequest') },
        'multipart/form-data': { schema: ref('CreateEditMultipart') },
      },
    };
  }
  const batch = document.paths['/v1/batches']?.post;
  if (batch) {
    batch.requestBody = { required: true, content: { 'application/json': { schema: ref('CreateBatchRequest') } } };
  }
  const upload = document.paths['/v1/uploads']?.post;
  if (upload) {
    upload.requestBody = { required: true, content: { 'application/json': { schema: ref('CreateUploadRequest') } } };
  }
  documentRateLimits(document);
  documentOpenAiRoutes(document);
  return document;
}
