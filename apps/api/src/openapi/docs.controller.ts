import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Controller, Get, Header, Inject, NotFoundException, Param, Req, Res } from '@nestjs/common';
import { ApiExcludeController, type OpenAPIObject } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const OPENAPI_DOCUMENT = Symbol('OpenApiDocument');

/** Swagger UI's files, served from the `swagger-ui-dist` package that @nestjs/swagger brings. */
const UI_ASSETS: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
};

const UI_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Step1X-Edit API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/docs/openapi.json', dom_id: '#ui' });</script>
</body></html>
`;

function wantsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return /text\/html/i.test(accept);
}

/**
 * `/docs`: the OpenAPI document as JSON, or Swagger UI for a browser (Accept: text/html). `/docs/openapi.json`
 * is always the JSON. No API key needed. (SwaggerModule.setup would need @fastify/static, which we do not ship.)
 */
@ApiExcludeController()
@Controller('docs')
export class DocsController {
  private assetsDir: string | null = null;

  constructor(@Inject(OPENAPI_DOCUMENT) private readonly document: { current: OpenAPIObject | null }) {}

  @Get()
  docs(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): OpenAPIObject | string {
    if (wantsHtml(request)) {
      void reply.type('text/html; charset=utf-8');
      return UI_PAGE;
    }
    return this.openApi();
  }

  @Get('openapi.json')
  @Header('Content-Type', 'application/json; charset=utf-8')
  openApi(): OpenAPIObject {
    if (!this.document.current) throw new NotFoundException();
    return this.document.current;
  }

  @Get('assets/:file')
  async asset(@Param('file') file: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<Buffer> {
    const type = UI_ASSETS[file];
    if (!type) throw new NotFoundException();
    this.assetsDir ??= dirname(require.resolve('swagger-ui-dist/package.json'));
    void reply.type(type).header('Cache-Control', 'public, max-age=86400');
    return readFile(join(this.assetsDir, file));
  }
}
