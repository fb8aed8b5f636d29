// The hostile-input corpus as data: each case builds the exact bytes to send. The rule every case is held to is
// the same (hostile.probe.ts): a 4xx in the contract's error shape, or accepted and then edited successfully;
// never a 5xx, a hang, a crash, or a connection anywhere private. `expect` pins the answer where the contract
// says exactly what it must be.
import { httpMessage, multipartBody, type RawRequest } from './raw-http';
import type { HostileImage } from './hostile-images';

export interface HostileContext {
  key: string;
  otherKey: string;
  /** The allowed image host (127.0.0.2): serves `/img/<index>` and scripted redirects. */
  imageHost: string;
  /** Port of the private-address canaries (80): a URL without a port lands there. */
  canaryPort: number;
  /** The API's own port (SSRF back into the service). */
  apiPort: number;
  /** An edit and an upload of the other tenant. */
  foreignEditId: string;
  foreignUploadKey: string;
  /** A presigned upload of the acme tenant holding the bytes, returns its image_key. */
  upload(image: HostileImage): Promise<string>;
  images: HostileImage[];
  /** Names that resolve to private addresses inside the namespace (/etc/hosts); empty when none could be set. */
  privateNames: string[];
}

export interface HostileCase {
  group: string;
  name: string;
  build(ctx: HostileContext): RawRequest | Promise<RawRequest>;
  expect?: { status: number; code?: string };
  /** A valid request: it must be accepted and edited (a refusal is a failure too). */
  mustAccept?: boolean;
}

const BOUNDARY = 'hostileBoundary7MA4YWxkTrZu0gW';

/** A well-formed one-field multipart body whose CRLF line ends are replaced by `eol`. */
function withLineEnds(eol: string): Buffer {
  const body = multipartBody(BOUNDARY, [{ name: 'instruction', value: 'x' }]).toString('latin1');
  return Buffer.from(body.replace(/\r\n/g, eol), 'latin1');
}
const EDIT_FIELDS = { instruction: 'make it blue', steps: '1' } as const;

const auth = (ctx: HostileContext, other = false) => ({ authorization: `Bearer ${other ? ctx.otherKey : ctx.key}` });

function json(ctx: HostileContext, body: string | Buffer, headers: Record<string, string | number> = {}): RawRequest {
  return {
    bytes: httpMessage({
      path: '/v1/edits',
      headers: { ...auth(ctx), 'content-type': 'application/json', ...headers },
      body,
    }),
  };
}

function editJson(ctx: HostileContext, fields: Record<string, unknown>): RawRequest {
  return json(ctx, JSON.stringify({ instruction: 'make it blue', steps: 1, ...fields }));
}

function multipart(
  ctx: HostileContext,
  body: Buffer,
  contentType = `multipart/form-data; boundary=${BOUNDARY}`,
  extra: Partial<RawRequest> & { contentLength?: number | null } = {},
): RawRequest {
  const { contentLength, ...rest } = extra;
  return {
    bytes: httpMessage({
      path: '/v1/edits',
      headers: { ...auth(ctx), 'content-type': contentType },
      body,
      contentLength,
    }),
    ...rest,
  };
}

function imageParts(image: HostileImage, fields: Record<string, string> = EDIT_FIELDS) {
  return [
    ...Object.entries(fields).map(([name, value]) => ({ name, value })),
    { name: 'image', value: image.bytes, filename: 'input', type: image.type },
  ];
}

const imageIndex = (ctx: HostileContext, name: string) => ctx.images.findIndex((image) => image.name === name);

/** Every image through every intake: multipart file, `image_url` (allowed host), presigned `image_key`. */
function imageCases(images: HostileImage[]): HostileCase[] {
  const cases: HostileCase[] = [];
  for (const image of images) {
    cases.push({
      group: 'images',
      name: `${image.name} (multipart)`,
      mustAccept: image.valid,
      build: (ctx) => multipart(ctx, multipartBody(BOUNDARY, imageParts(image))),
    });
    // Valid images are edited once (each edit costs seconds); bad ones go through all three intakes.
    if (image.valid) continue;
    cases.push({
      group: 'images',
      name: `${image.name} (image_url)`,
      build: (ctx) => editJson(ctx, { image_url: `${ctx.imageHost}/img/${imageIndex(ctx, image.name)}` }),
    });
    if (image.bytes.length > 0) {
      cases.push({
        group: 'images',
        name: `${image.name} (image_key)`,
        build: async (ctx) => editJson(ctx, { image_key: await ctx.upload(image) }),
      });
    }
  }
  return cases;
}

function deep(depth: number, leaf = '1'): string {
  return '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
}

function jsonCases(): HostileCase[] {
  const g = 'json bodies';
  const bodies: Array<[string, string | Buffer, Record<string, string | number>?, { status: number; code?: string }?]> =
    [
      [
        'over 256 KB',
        JSON.stringify({ instruction: 'x', image_url: 'http://a/', metadata: { p: 'x'.repeat(300_000) } }),
        {},
        { status: 413, code: 'payload_too_large' },
      ],
      ['4 MB of spaces', ' '.repeat(4_000_000), {}, { status: 413 }],
      ['array nested 100000 deep', '['.repeat(100_000) + ']'.repeat(100_000), {}, { status: 400 }],
      ['object nested 30000 deep', deep(30_000), {}, { status: 400 }],
      [
        'metadata nested 65 deep',
        `{"instruction":"x","image_url":"http://a/","metadata":${deep(65)}}`,
        {},
        { status: 400 },
      ],
      [
        'metadata nested 5000 deep',
        `{"instruction":"x","image_url":"http://a/","metadata":${deep(5000)}}`,
        {},
        { status: 400 },
      ],
      ['unterminated', '{"instruction":"x"', {}, { status: 400 }],
      ['empty body', '', {}, { status: 400 }],
      ['null', 'null', {}, { status: 400 }],
      ['number', '42', {}, { status: 400 }],
      ['string', '"make it blue"', {}, { status: 400 }],
      ['array', '[{"instruction":"x"}]', {}, { status: 400 }],
      ['__proto__ key', '{"instruction":"x","image_url":"http://a/","__proto__":{"admin":true}}', {}, { status: 400 }],
      [
        'constructor.prototype',
        '{"instruction":"x","image_url":"http://a/","constructor":{"prototype":{"x":1}}}',
        {},
        { status: 400 },
      ],
      ['duplicate keys', '{"instruction":"x","instruction":"y","image_key":"uploads/acme/none"}', {}, { status: 400 }],
      [
        'BOM before JSON',
        Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"instruction":"x","image_key":"k"}')]),
        {},
        { status: 400 },
      ],
      [
        'UTF-16 body',
        Buffer.from('{"instruction":"x","image_key":"k"}', 'utf16le'),
        { 'content-type': 'application/json; charset=utf-16' },
        { status: 400 },
      ],
      [
        'invalid UTF-8 bytes',
        Buffer.concat([
          Buffer.from('{"instruction":"'),
          Buffer.from([0xc3, 0x28, 0xff]),
          Buffer.from('","image_key":"k"}'),
        ]),
        {},
        { status: 400 },
      ],
      ['text/plain', '{"instruction":"x","image_key":"k"}', { 'content-type': 'text/plain' }, { status: 415 }],
      [
        'form-urlencoded',
        'instruction=x&image_key=k',
        { 'content-type': 'application/x-www-form-urlencoded' },
        { status: 415 },
      ],
      ['no content type', '{"instruction":"x","image_key":"k"}', { 'content-type': '' }, { status: 415 }],
      [
        'two content types',
        '{"instruction":"x","image_key":"k"}',
        { 'content-type': 'application/json, multipart/form-data' },
        undefined,
      ],
      ['xml', '<edit><instruction>x</instruction></edit>', { 'content-type': 'application/xml' }, { status: 415 }],
      [
        'huge number literal',
        '{"instruction":"x","image_key":"k","steps":1' + '0'.repeat(5000) + '}',
        {},
        { status: 400 },
      ],
      ['1e400 steps', '{"instruction":"x","image_key":"k","steps":1e400}', {}, { status: 400 }],
      ['-0 seed', '{"instruction":"x","image_key":"uploads/acme/none","seed":-0}', {}, { status: 400 }],
    ];
  const cases: HostileCase[] = bodies.map(([name, body, headers, expect]) => ({
    group: g,
    name,
    expect,
    build: (ctx: HostileContext) => json(ctx, body, headers),
  }));
  const fieldCases: Array<[string, Record<string, unknown>, number, string?]> = [
    ['instruction NUL', { instruction: 'make it\u0000 blue' }, 400, 'invalid_request'],
    ['instruction lone high surrogate', { instruction: 'make it \ud800 blue' }, 400, 'invalid_request'],
    ['instruction lone low surrogate', { instruction: '\udfff' }, 400, 'invalid_request'],
    ['instruction special token', { instruction: 'x <|im_end|> y' }, 400, 'instruction_contains_special_token'],
    ['instruction vision token', { instruction: '<|vision_start|>' }, 400, 'instruction_contains_special_token'],
    ['instruction 2001 code points', { instruction: 'é'.repeat(2001) }, 400, 'out_of_range'],
    ['instruction empty', { instruction: '' }, 400],
    ['instruction whitespace', { instruction: '\u00a0\u2003\t\n' }, 400],
    ['instruction number', { instruction: 42 }, 400],
    ['instruction object', { instruction: { $gt: '' } }, 400],
    ['instruction array', { instruction: ['a', 'b'] }, 400],
    ['steps 0', { steps: 0 }, 400, 'out_of_range'],
    ['steps 101', { steps: 101 }, 400, 'out_of_range'],
    ['steps 1.5', { steps: 1.5 }, 400],
    ['steps string', { steps: '1' }, 400],
    ['steps true', { steps: true }, 400],
    ['seed -1', { seed: -1 }, 400, 'out_of_range'],
    ['seed 2^32', { seed: 2 ** 32 }, 400, 'out_of_range'],
    ['seed 2^53+2', { seed: 2 ** 53 + 2 }, 400],
    ['guidance 0.99', { guidance: 0.99 }, 400, 'out_of_range'],
    ['guidance 20.01', { guidance: 20.01 }, 400, 'out_of_range'],
    ['size_level 513', { size_level: 513 }, 400],
    ['size_level 4096', { size_level: 4096 }, 400],
    ['output_format gif', { output_format: 'gif' }, 400],
    ['output_format svg', { output_format: 'svg' }, 400],
    ['priority urgent', { priority: 'urgent' }, 400],
    ['webhook_events unknown', { webhook_events: ['everything'] }, 400],
    ['webhook_events 1000 entries', { webhook_events: Array(1000).fill('started') }, 400],
    ['metadata array', { metadata: [1] }, 400],
    ['metadata string', { metadata: '{}' }, 400],
    ['metadata over 4 KB', { metadata: { a: 'x'.repeat(5000) } }, 400, 'out_of_range'],
    ['unknown field', { sampler: 'euler' }, 400, 'unknown_field'],
    ['unknown field model_path', { model_path: '/etc/passwd' }, 400, 'unknown_field'],
    ['two image sources', { image_key: 'uploads/acme/x', image_url: 'http://127.0.0.2/a.png' }, 400],
    ['no image source', { image_url: undefined }, 400],
    ['image_key 10000 chars', { image_key: 'u'.repeat(10_000) }, 400],
    ['image_url 10000 chars', { image_url: `http://127.0.0.2/${'a'.repeat(10_000)}` }, 400],
  ];
  for (const [name, fields, status, code] of fieldCases) {
    cases.push({
      group: 'json fields',
      name,
      expect: { status, code },
      build: (ctx) =>
        editJson(ctx, { image_url: `${ctx.imageHost}/img/${imageIndex(ctx, 'animated gif')}`, ...fields }),
    });
  }
  return cases;
}

/** A multipart body of `instruction` plus one more part. */
const withPart =
  (part: { name: string; value: string | Buffer; filename?: string; type?: string }) => (ctx: HostileContext) =>
    multipart(ctx, multipartBody(BOUNDARY, [{ name: 'instruction', value: 'x' }, part]));

function multipartCases(): HostileCase[] {
  const g = 'multipart framing';
  const fieldPart = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="instruction"\r\n\r\nmake it blue\r\n`;
  const framings: Array<[string, (ctx: HostileContext) => RawRequest, { status: number; code?: string }?]> = [
    ['no boundary parameter', (ctx) => multipart(ctx, Buffer.from(fieldPart), 'multipart/form-data'), { status: 400 }],
    [
      'empty boundary',
      (ctx) => multipart(ctx, Buffer.from(fieldPart), 'multipart/form-data; boundary='),
      { status: 400 },
    ],
    [
      'boundary of 71 characters',
      (ctx) =>
        multipart(ctx, Buffer.from(`--${'b'.repeat(71)}\r\n`), `multipart/form-data; boundary=${'b'.repeat(71)}`),
      { status: 400 },
    ],
    [
      'boundary of 5000 characters',
      (ctx) =>
        multipart(ctx, Buffer.from(`--${'b'.repeat(5000)}\r\n`), `multipart/form-data; boundary=${'b'.repeat(5000)}`),
      { status: 400 },
    ],
    [
      'boundary with forbidden characters',
      (ctx) => multipart(ctx, Buffer.from(fieldPart), 'multipart/form-data; boundary="a<b>c"'),
      { status: 400 },
    ],
    [
      'boundary ending in a space',
      (ctx) => multipart(ctx, Buffer.from(fieldPart), 'multipart/form-data; boundary="abc "'),
      { status: 400 },
    ],
    [
      'mismatched boundary',
      (ctx) => multipart(ctx, multipartBody('OtherBoundary', [{ name: 'instruction', value: 'x' }])),
      { status: 400 },
    ],
    ['unterminated (no closing delimiter)', (ctx) => multipart(ctx, Buffer.from(fieldPart)), { status: 400 }],
    [
      'unterminated inside a part',
      (ctx) =>
        multipart(
          ctx,
          Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="instruction"\r\n\r\nmake it`),
        ),
      { status: 400 },
    ],
    ['LF-only line ends', (ctx) => multipart(ctx, withLineEnds('\n')), { status: 400 }],
    ['CR-only line ends', (ctx) => multipart(ctx, withLineEnds('\r')), { status: 400 }],
    [
      'garbage body',
      (ctx) => multipart(ctx, Buffer.from('\x00\x01garbage\xff\xfe'.repeat(100), 'latin1')),
      { status: 400 },
    ],
    [
      'JSON body under multipart',
      (ctx) => multipart(ctx, Buffer.from('{"instruction":"x","image_key":"k"}')),
      { status: 400 },
    ],
    ['empty body', (ctx) => multipart(ctx, Buffer.alloc(0)), { status: 400 }],
    ['only the closing delimiter', (ctx) => multipart(ctx, Buffer.from(`--${BOUNDARY}--\r\n`)), { status: 400 }],
    [
      'part without headers',
      (ctx) => multipart(ctx, Buffer.from(`--${BOUNDARY}\r\n\r\nvalue\r\n--${BOUNDARY}--\r\n`)),
      { status: 400 },
    ],
    [
      'part without a name',
      (ctx) =>
        multipart(
          ctx,
          Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--${BOUNDARY}--\r\n`),
        ),
      { status: 400 },
    ],
    [
      'malformed part header',
      (ctx) => multipart(ctx, Buffer.from(`--${BOUNDARY}\r\nthis is not a header\r\n\r\nvalue\r\n--${BOUNDARY}--\r\n`)),
      { status: 400 },
    ],
    [
      'part header of 100 KB',
      (ctx) =>
        multipart(
          ctx,
          Buffer.from(
            `--${BOUNDARY}\r\nContent-Disposition: form-data; name="instruction"\r\nX-Pad: ${'p'.repeat(100_000)}\r\n\r\nx\r\n--${BOUNDARY}--\r\n`,
          ),
        ),
    ],
    [
      'multipart/mixed',
      (ctx) => multipart(ctx, Buffer.from(fieldPart + `--${BOUNDARY}--\r\n`), `multipart/mixed; boundary=${BOUNDARY}`),
    ],
    [
      'body shorter than Content-Length (client closes)',
      (ctx) => multipart(ctx, Buffer.from(fieldPart), undefined, { contentLength: 10_000, halfClose: true }),
      { status: 400 },
    ],
    [
      'declared 1 GB multipart',
      (ctx) => multipart(ctx, Buffer.from(fieldPart), undefined, { contentLength: 1_073_741_824, halfClose: true }),
      { status: 413 },
    ],
    [
      'image field twice',
      (ctx) => {
        const image = ctx.images[imageIndex(ctx, 'animated gif')];
        return multipart(
          ctx,
          multipartBody(BOUNDARY, [
            ...imageParts(image),
            { name: 'image', value: image.bytes, filename: 'b', type: image.type },
          ]),
        );
      },
      { status: 400 },
    ],
    [
      'unknown file field',
      withPart({ name: 'payload', value: Buffer.from('x'), filename: 'x.sh' }),
      { status: 400, code: 'unknown_field' },
    ],
    ['field repeated', withPart({ name: 'instruction', value: 'y' }), { status: 400 }],
    [
      '60 parts (limit 50)',
      (ctx) =>
        multipart(
          ctx,
          multipartBody(
            BOUNDARY,
            Array.from({ length: 60 }, (_, i) => ({ name: `f${i}`, value: 'x' })),
          ),
        ),
      { status: 413 },
    ],
    [
      'field of 70 KB (limit 64 KB)',
      (ctx) => multipart(ctx, multipartBody(BOUNDARY, [{ name: 'instruction', value: 'x'.repeat(70_000) }])),
      { status: 413 },
    ],
    ['metadata field nested 10000 deep', withPart({ name: 'metadata', value: deep(10_000) }), { status: 400 }],
    ['metadata field not JSON', withPart({ name: 'metadata', value: '{oops' }), { status: 400 }],
    ['steps field "1e400"', withPart({ name: 'steps', value: '1e400' }), { status: 400 }],
    ['steps field "0x10"', withPart({ name: 'steps', value: '0x10' }), { status: 400 }],
    [
      'instruction with NUL (multipart)',
      (ctx) =>
        multipart(ctx, multipartBody(BOUNDARY, imageParts(ctx.images[0], { instruction: 'a\u0000b', steps: '1' }))),
      { status: 400 },
    ],
    [
      'instruction of invalid UTF-8 bytes',
      (ctx) =>
        multipart(ctx, multipartBody(BOUNDARY, [{ name: 'instruction', value: Buffer.from([0xff, 0xfe, 0xfd]) }])),
      { status: 400 },
    ],
    [
      'empty image file',
      withPart({ name: 'image', value: Buffer.alloc(0), filename: 'a.png', type: 'image/png' }),
      { status: 422 },
    ],
    [
      'file name with path traversal',
      withPart({ name: 'image', value: Buffer.from('nope'), filename: '../../../etc/passwd', type: 'image/png' }),
      { status: 422 },
    ],
    [
      'image part of 21 MB, chunked',
      (ctx) => {
        const body = multipartBody(BOUNDARY, [
          { name: 'instruction', value: 'x' },
          { name: 'image', value: Buffer.alloc(21 * 1024 * 1024, 7), filename: 'big.png', type: 'image/png' },
        ]);
        const chunked = Buffer.concat([
          Buffer.from(`${body.length.toString(16)}\r\n`),
          body,
          Buffer.from('\r\n0\r\n\r\n'),
        ]);
        return {
          bytes: httpMessage({
            path: '/v1/edits',
            headers: {
              ...auth(ctx),
              'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
              'transfer-encoding': 'chunked',
            },
            body: chunked,
            contentLength: null,
          }),
        };
      },
      { status: 413 },
    ],
  ];
  return framings.map(([name, build, expect]) => ({ group: g, name, build, expect }));
}

/** A JSON POST whose framing headers (`content-length`, `transfer-encoding` lines) are written by hand. */
function framedJson(ctx: HostileContext, framingLines: string, body: string): RawRequest {
  const head = `POST /v1/edits HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ctx.key}\r\ncontent-type: application/json\r\n`;
  return { bytes: Buffer.from(`${head}${framingLines}connection: close\r\n\r\n${body}`) };
}

function httpCases(): HostileCase[] {
  const g = 'http framing';
  const plain = (
    ctx: HostileContext,
    headers: Record<string, string | number>,
    body = '{"instruction":"x","image_key":"k"}',
  ) => json(ctx, body, headers);
  const list: Array<[string, (ctx: HostileContext) => RawRequest, { status: number; code?: string }?]> = [
    ['Content-Encoding gzip', (ctx) => plain(ctx, { 'content-encoding': 'gzip' }), { status: 415 }],
    ['Content-Encoding br', (ctx) => plain(ctx, { 'content-encoding': 'br' }), { status: 415 }],
    [
      'Content-Encoding deflate on multipart',
      (ctx) => ({
        ...multipart(ctx, Buffer.from('x')),
        bytes: httpMessage({
          path: '/v1/edits',
          headers: {
            ...auth(ctx),
            'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
            'content-encoding': 'deflate',
          },
          body: 'x',
        }),
      }),
      { status: 415 },
    ],
    ['Content-Encoding made up', (ctx) => plain(ctx, { 'content-encoding': 'x-rot13' }), { status: 415 }],
    ['Content-Encoding gzip, identity', (ctx) => plain(ctx, { 'content-encoding': 'gzip, identity' }), { status: 415 }],
    [
      'Expect 100-continue with 1 GB JSON',
      (ctx) => expectContinue(ctx, 'application/json', 1_073_741_824),
      { status: 413 },
    ],
    [
      'Expect 100-continue with 1 GB multipart',
      (ctx) => expectContinue(ctx, `multipart/form-data; boundary=${BOUNDARY}`, 1_073_741_824),
      { status: 413 },
    ],
    [
      // The normal path through the checkContinue handler: 100 Continue, then the body, then the real answer.
      'Expect 100-continue with a small JSON body',
      (ctx) => {
        const body = '{"instruction":"x","image_key":"uploads/acme/none"}';
        const head = httpMessage({
          path: '/v1/edits',
          headers: { ...auth(ctx), 'content-type': 'application/json', expect: '100-continue' },
          contentLength: body.length,
        });
        return { bytes: Buffer.concat([head, Buffer.from(body)]), expectContinue: { headBytes: head.length } };
      },
      { status: 400 },
    ],
    ['Expect something else', (ctx) => plain(ctx, { expect: 'the-unexpected' }), { status: 417 }],
    [
      'JSON body shorter than Content-Length',
      (ctx) => ({
        ...plain(ctx, {}),
        bytes: httpMessage({
          path: '/v1/edits',
          headers: { ...auth(ctx), 'content-type': 'application/json' },
          body: '{"a":1}',
          contentLength: 500,
        }),
        halfClose: true,
      }),
      { status: 400 },
    ],
    [
      'Content-Length and Transfer-Encoding',
      (ctx) => framedJson(ctx, 'content-length: 5\r\ntransfer-encoding: chunked\r\n', '0\r\n\r\n'),
      { status: 400 },
    ],
    [
      'two different Content-Lengths',
      (ctx) => framedJson(ctx, 'content-length: 2\r\ncontent-length: 3\r\n', '{}'),
      { status: 400 },
    ],
    ['Content-Length not a number', (ctx) => framedJson(ctx, 'content-length: abc\r\n', '{}'), { status: 400 }],
    ['negative Content-Length', (ctx) => framedJson(ctx, 'content-length: -1\r\n', '{}'), { status: 400 }],
    ['garbage request line', () => ({ bytes: Buffer.from('\x00\x01\x02 garbage\r\n\r\n', 'latin1') }), { status: 400 }],
    ['HTTP/2 preface on HTTP/1.1', () => ({ bytes: Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n') }), { status: 400 }],
    [
      'header with NUL',
      (ctx) => ({
        bytes: Buffer.from(
          `GET /v1/edits HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ctx.key}\r\nx-evil: a\x00b\r\nconnection: close\r\n\r\n`,
          'latin1',
        ),
      }),
      { status: 400 },
    ],
    [
      'header block of 40 KB',
      (ctx) => ({
        bytes: httpMessage({
          method: 'GET',
          path: '/v1/edits',
          headers: { ...auth(ctx), 'x-pad': 'p'.repeat(40_000) },
        }),
      }),
      { status: 400 },
    ],
    [
      'URL of 20 KB',
      (ctx) => ({ bytes: httpMessage({ method: 'GET', path: `/v1/edits/${'a'.repeat(20_000)}`, headers: auth(ctx) }) }),
      { status: 400 },
    ],
    [
      'path parameter of 300 characters',
      (ctx) => ({ bytes: httpMessage({ method: 'GET', path: `/v1/edits/${'a'.repeat(300)}`, headers: auth(ctx) }) }),
    ],
    [
      'bad percent-encoding in the path',
      (ctx) => ({ bytes: httpMessage({ method: 'GET', path: '/v1/edits/%E0%A4%A', headers: auth(ctx) }) }),
      { status: 400 },
    ],
    [
      'cancel with a bad percent-encoding',
      (ctx) => ({ bytes: httpMessage({ path: '/v1/edits/%ZZ/cancel', headers: auth(ctx), body: '' }) }),
    ],
    [
      'unknown route',
      (ctx) => ({ bytes: httpMessage({ method: 'GET', path: '/v1/../../etc/passwd', headers: auth(ctx) }) }),
      { status: 404 },
    ],
    [
      'PUT on /v1/edits',
      (ctx) => ({ bytes: httpMessage({ method: 'PUT', path: '/v1/edits', headers: auth(ctx), body: '' }) }),
    ],
    ['TRACE', (ctx) => ({ bytes: httpMessage({ method: 'TRACE', path: '/v1/edits', headers: auth(ctx), body: '' }) })],
    ['no Authorization', () => ({ bytes: httpMessage({ method: 'GET', path: '/v1/edits' }) }), { status: 401 }],
    [
      'Authorization of 10 KB',
      () => ({
        bytes: httpMessage({
          method: 'GET',
          path: '/v1/edits',
          headers: { authorization: `Bearer ${'k'.repeat(10_000)}` },
        }),
      }),
      { status: 401 },
    ],
    [
      'Basic auth',
      () => ({
        bytes: httpMessage({ method: 'GET', path: '/v1/edits', headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } }),
      }),
      { status: 401 },
    ],
    ['Idempotency-Key of 300 characters', (ctx) => plain(ctx, { 'idempotency-key': 'k'.repeat(300) }), { status: 400 }],
    ['Prefer: wait=abc', (ctx) => plain(ctx, { prefer: 'wait=abc' })],
    [
      'list limit 1000000',
      (ctx) => ({ bytes: httpMessage({ method: 'GET', path: '/v1/edits?limit=1000000', headers: auth(ctx) }) }),
      { status: 400 },
    ],
    [
      'list cursor garbage',
      (ctx) => ({ bytes: httpMessage({ method: 'GET', path: '/v1/edits?cursor=%00%FF', headers: auth(ctx) }) }),
      { status: 400, code: 'invalid_cursor' },
    ],
    [
      'list status unknown',
      (ctx) => ({ bytes: httpMessage({ method: 'GET', path: '/v1/edits?status=pwned', headers: auth(ctx) }) }),
      { status: 400 },
    ],
    [
      'query parameter pollution',
      (ctx) => ({
        bytes: httpMessage({ method: 'GET', path: '/v1/edits?limit=1&limit=2&limit=3', headers: auth(ctx) }),
      }),
    ],
    [
      'uploads with multipart',
      (ctx) => ({
        bytes: httpMessage({
          path: '/v1/uploads',
          headers: { ...auth(ctx), 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
          body: multipartBody(BOUNDARY, [{ name: 'size', value: '1' }]),
        }),
      }),
      { status: 415 },
    ],
    [
      'uploads size 1 TB',
      (ctx) => ({
        bytes: httpMessage({
          path: '/v1/uploads',
          headers: { ...auth(ctx), 'content-type': 'application/json' },
          body: '{"content_type":"image/png","size":1099511627776}',
        }),
      }),
      { status: 413 },
    ],
    [
      'uploads type text/html',
      (ctx) => ({
        bytes: httpMessage({
          path: '/v1/uploads',
          headers: { ...auth(ctx), 'content-type': 'application/json' },
          body: '{"content_type":"text/html","size":10}',
        }),
      }),
      { status: 400 },
    ],
  ];
  return list.map(([name, build, expect]) => ({ group: g, name, build, expect }));
}

function expectContinue(ctx: HostileContext, contentType: string, length: number): RawRequest {
  const head = httpMessage({
    path: '/v1/edits',
    headers: { ...auth(ctx), 'content-type': contentType, expect: '100-continue' },
    contentLength: length,
  });
  // Only the head is sent; the body follows only after a 100 Continue (which must not come).
  return { bytes: Buffer.concat([head, Buffer.alloc(1024, 0x20)]), expectContinue: { headBytes: head.length } };
}

/** image_url and webhook_url aimed at private places in every notation, and through redirects. */
function ssrfCases(): HostileCase[] {
  const notAllowed = { status: 422, code: 'url_not_allowed' };
  const targets: Array<[string, (ctx: HostileContext) => string, { status: number; code?: string }?]> = [
    ['127.0.0.1', () => 'http://127.0.0.1/a.png'],
    ['127.0.0.1 with the API port', (ctx) => `http://127.0.0.1:${ctx.apiPort}/healthz`],
    ['127.1 (short)', () => 'http://127.1/a.png'],
    ['127.0.1 (short)', () => 'http://127.0.1/a.png'],
    ['2130706433 (decimal)', () => 'http://2130706433/a.png'],
    ['0x7f000001 (hex)', () => 'http://0x7f000001/a.png'],
    ['0x7f.0x0.0x0.0x1 (dotted hex)', () => 'http://0x7f.0x0.0x0.0x1/a.png'],
    ['0177.0.0.1 (octal)', () => 'http://0177.0.0.1/a.png'],
    ['017700000001 (octal)', () => 'http://017700000001/a.png'],
    ['127.000.000.001 (zero-padded)', () => 'http://127.000.000.001/a.png'],
    ['127.0.0.1. (trailing dot)', () => 'http://127.0.0.1./a.png'],
    ['%31%32%37.0.0.1 (percent-encoded)', () => 'http://%31%32%37.0.0.1/a.png'],
    ['fullwidth digits', () => 'http://\uff11\uff12\uff17.0.0.1/a.png'],
    ['0.0.0.0', () => 'http://0.0.0.0/a.png'],
    ['0 (zero)', () => 'http://0/a.png'],
    ['[::]', () => 'http://[::]/a.png'],
    ['[::1]', () => 'http://[::1]/a.png'],
    ['[0:0:0:0:0:0:0:1]', () => 'http://[0:0:0:0:0:0:0:1]/a.png'],
    ['[::ffff:127.0.0.1] (mapped)', () => 'http://[::ffff:127.0.0.1]/a.png'],
    ['[::ffff:7f00:1] (mapped hex)', () => 'http://[::ffff:7f00:1]/a.png'],
    ['[::ffff:a9fe:a9fe] (mapped metadata)', () => 'http://[::ffff:a9fe:a9fe]/latest/'],
    ['[::127.0.0.1] (compatible)', () => 'http://[::127.0.0.1]/a.png'],
    ['[64:ff9b::7f00:1] (NAT64)', () => 'http://[64:ff9b::7f00:1]/a.png'],
    ['[fe80::1] (link-local)', () => 'http://[fe80::1]/a.png'],
    ['[fd00::1] (unique local)', () => 'http://[fd00::1]/a.png'],
    ['[fc00::1] (unique local)', () => 'http://[fc00::1]/a.png'],
    ['[ff02::1] (multicast)', () => 'http://[ff02::1]/a.png'],
    ['169.254.169.254 (metadata)', () => 'http://169.254.169.254/latest/meta-data/'],
    ['2852039166 (metadata, decimal)', () => 'http://2852039166/latest/'],
    ['0xa9fea9fe (metadata, hex)', () => 'http://0xa9fea9fe/latest/'],
    ['169.254.0.1 (link-local)', () => 'http://169.254.0.1/a.png'],
    ['10.0.0.1', () => 'http://10.0.0.1/a.png'],
    ['10.255.255.255', () => 'http://10.255.255.255/a.png'],
    ['012.0.0.1 (octal 10.0.0.1)', () => 'http://012.0.0.1/a.png'],
    ['172.16.0.1', () => 'http://172.16.0.1/a.png'],
    ['172.31.255.254', () => 'http://172.31.255.254/a.png'],
    ['192.168.1.1', () => 'http://192.168.1.1/a.png'],
    ['3232235777 (192.168.1.1 decimal)', () => 'http://3232235777/a.png'],
    ['100.64.0.1 (CGNAT)', () => 'http://100.64.0.1/a.png'],
    ['198.18.0.1 (benchmarking)', () => 'http://198.18.0.1/a.png'],
    ['224.0.0.1 (multicast)', () => 'http://224.0.0.1/a.png'],
    ['240.0.0.1 (reserved)', () => 'http://240.0.0.1/a.png'],
    ['255.255.255.255 (broadcast)', () => 'http://255.255.255.255/a.png'],
    ['localhost', () => 'http://localhost/a.png'],
    // A trailing-dot name need not resolve through the hosts file (and there is no DNS here): refused either way.
    ['LOCALHOST.', () => 'http://LOCALHOST./a.png', { status: 422 }],
    ['user@ trick to 127.0.0.1', () => 'http://127.0.0.2@127.0.0.1/a.png'],
    ['https to 127.0.0.1', () => 'https://127.0.0.1/a.png'],
  ];
  const cases: HostileCase[] = [];
  for (const [name, url, expect] of targets) {
    cases.push({
      group: 'ssrf image_url',
      name,
      expect: expect ?? notAllowed,
      build: (ctx) => editJson(ctx, { image_url: url(ctx) }),
    });
  }
  for (const [name, url, expect] of targets.filter((_, i) => i % 3 === 0)) {
    cases.push({
      group: 'ssrf webhook_url',
      name,
      expect: expect ?? notAllowed,
      build: (ctx) =>
        editJson(ctx, {
          image_url: `${ctx.imageHost}/img/${imageIndex(ctx, 'animated gif')}`,
          webhook_url: url(ctx),
        }),
    });
  }
  const redirects = [
    '127.0.0.1',
    '2130706433',
    '[::1]',
    '[::ffff:127.0.0.1]',
    '169.254.169.254',
    '10.0.0.1',
    '0.0.0.0',
    'localhost',
  ];
  for (const target of redirects) {
    cases.push({
      group: 'ssrf redirects',
      name: `302 to ${target}`,
      expect: notAllowed,
      build: (ctx) =>
        editJson(ctx, { image_url: `${ctx.imageHost}/redirect?to=${encodeURIComponent(`http://${target}/a.png`)}` }),
    });
  }
  const redirectOthers: Array<[string, string, { status: number; code?: string }]> = [
    ['redirect to file:///etc/passwd', `/redirect?to=${encodeURIComponent('file:///etc/passwd')}`, { status: 422 }],
    ['redirect to gopher://', `/redirect?to=${encodeURIComponent('gopher://127.0.0.1:6379/_INFO')}`, { status: 422 }],
    ['redirect loop', '/loop', { status: 422, code: 'url_fetch_failed' }],
    ['redirect chain of 2 then 127.0.0.1', `/chain?n=2&to=${encodeURIComponent('http://127.0.0.1/a.png')}`, notAllowed],
    ['redirect without Location', '/redirect-empty', { status: 422 }],
    ['answer slower than the timeout', '/slow', { status: 422, code: 'url_fetch_failed' }],
    ['answer of 25 MB', '/huge', { status: 413 }],
    ['404 from the image host', '/missing', { status: 422, code: 'url_fetch_failed' }],
  ];
  for (const [name, path, expect] of redirectOthers) {
    cases.push({
      group: 'ssrf redirects',
      name,
      expect,
      build: (ctx) => editJson(ctx, { image_url: `${ctx.imageHost}${path}` }),
    });
  }
  const schemes = [
    'file:///etc/passwd',
    'gopher://127.0.0.1:6379/_INFO',
    'ftp://127.0.0.1/a.png',
    'data:image/png;base64,iVBORw0KGgo=',
    'javascript:alert(1)',
    'dict://127.0.0.1:11211/',
  ];
  for (const url of schemes) {
    cases.push({
      group: 'ssrf schemes',
      name: url.slice(0, 30),
      expect: { status: 400 },
      build: (ctx) => editJson(ctx, { image_url: url }),
    });
    cases.push({
      group: 'ssrf schemes',
      name: `webhook ${url.slice(0, 30)}`,
      expect: { status: 400 },
      build: (ctx) => editJson(ctx, { image_url: `${ctx.imageHost}/img/0`, webhook_url: url }),
    });
  }
  return cases;
}

/** Names in /etc/hosts of the namespace that point at private addresses (DNS rebinding's static cousin). */
export const PRIVATE_NAMES: Readonly<Record<string, string>> = {
  'internal.hostile.test': '10.0.0.1',
  'metadata.hostile.test': '169.254.169.254',
  'loopback.hostile.test': '127.0.0.1',
  'mapped.hostile.test': '::ffff:127.0.0.1',
  'v6.hostile.test': '::1',
};

function dnsCases(): HostileCase[] {
  return Object.keys(PRIVATE_NAMES).flatMap((name) => [
    {
      group: 'ssrf names',
      name: `image_url ${name}`,
      expect: { status: 422, code: 'url_not_allowed' },
      build: (ctx: HostileContext) => editJson(ctx, { image_url: `http://${name}/a.png` }),
    },
    {
      group: 'ssrf names',
      name: `webhook_url ${name}`,
      expect: { status: 422, code: 'url_not_allowed' },
      build: (ctx: HostileContext) =>
        editJson(ctx, { image_url: `${ctx.imageHost}/img/0`, webhook_url: `http://${name}/hook` }),
    },
  ]);
}

function tenantCases(): HostileCase[] {
  const g = 'tenants';
  const get = (path: string) => (ctx: HostileContext) => ({
    bytes: httpMessage({ method: 'GET', path, headers: auth(ctx) }),
  });
  const post = (path: string) => (ctx: HostileContext) => ({
    bytes: httpMessage({ path, headers: auth(ctx), body: '' }),
  });
  const list: Array<[string, (ctx: HostileContext) => RawRequest, { status: number; code?: string }]> = [
    [
      "GET another tenant's edit",
      (ctx) => get(`/v1/edits/${ctx.foreignEditId}`)(ctx),
      { status: 404, code: 'not_found' },
    ],
    [
      "cancel another tenant's edit",
      (ctx) => post(`/v1/edits/${ctx.foreignEditId}/cancel`)(ctx),
      { status: 404, code: 'not_found' },
    ],
    [
      "GET another tenant's edit, lower-cased id",
      (ctx) => get(`/v1/edits/${ctx.foreignEditId.toLowerCase()}`)(ctx),
      { status: 404 },
    ],
    [
      "edit from another tenant's image_key",
      (ctx) => editJson(ctx, { image_key: ctx.foreignUploadKey }),
      { status: 400 },
    ],
    [
      'image_key with ../ into another tenant',
      (ctx) => editJson(ctx, { image_key: ctx.foreignUploadKey.replace('uploads/globex/', 'uploads/acme/../globex/') }),
      { status: 400 },
    ],
    [
      'image_key outside uploads/',
      (ctx) => editJson(ctx, { image_key: `inputs/globex/${ctx.foreignEditId}` }),
      { status: 400 },
    ],
    [
      'image_key of an output',
      (ctx) => editJson(ctx, { image_key: `outputs/globex/${ctx.foreignEditId}.png` }),
      { status: 400 },
    ],
    ['GET an unknown valid-looking id', get('/v1/edits/edit_01JZZZZZZZZZZZZZZZZZZZZZZZ'), { status: 404 }],
    ['GET id with path traversal', get('/v1/edits/..%2F..%2Fadmin'), { status: 404 }],
    ['GET id with a NUL', get('/v1/edits/edit_%00'), { status: 404 }],
    ['GET id with unicode', get('/v1/edits/%F0%9F%8E%A9'), { status: 404 }],
    ['GET id that is a Redis key', get('/v1/edits/s1x%3Aedit%3A*'), { status: 404 }],
    ['cancel an unknown id', post('/v1/edits/edit_01JZZZZZZZZZZZZZZZZZZZZZZZ/cancel'), { status: 404 }],
    [
      "the other tenant's list through a forged cursor",
      get('/v1/edits?cursor=eyJ0IjoxLCJpIjoiZWRpdF8wMUoifQ'),
      { status: 400, code: 'invalid_cursor' },
    ],
  ];
  return list.map(([name, build, expect]) => ({ group: g, name, build, expect }));
}

export function hostileCases(images: HostileImage[]): HostileCase[] {
  return [
    ...imageCases(images),
    ...jsonCases(),
    ...multipartCases(),
    ...httpCases(),
    ...ssrfCases(),
    ...dnsCases(),
    ...tenantCases(),
  ];
}
