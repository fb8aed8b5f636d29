import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EditObject, ErrorBody } from '@step1x/contracts';
import {
  downloadImage,
  isTerminal,
  multipartOf,
  pngOf,
  startServiceStack,
  waitForEdit,
  type ServiceStack,
} from './service-harness';

/**
 * The API and the worker decode with one library and the same MAX_IMAGE_PIXELS / MAX_ASPECT_RATIO: with the aspect
 * ratio limit raised to 120:1, a 110:1 image the API accepts is one the worker edits (it used to fail it against a
 * fixed 100:1), and with the pixel limit lowered the API refuses what no longer fits. SVG is refused (415).
 */
describe('image limits: the API and the worker agree (e2e)', () => {
  let stack: ServiceStack;

  before(async () => {
    stack = await startServiceStack({ MAX_ASPECT_RATIO: '120', MAX_IMAGE_PIXELS: '5000' });
    await stack.startWorker({ WORKER_CONCURRENCY: '1' });
  });
  after(async () => {
    await stack?.stop();
  });

  const submit = (bytes: Buffer, type: string) =>
    stack.call('/v1/edits', {
      method: 'POST',
      body: multipartOf({ instruction: 'make it blue', steps: '1', size_level: '512' }, { bytes, type }),
    });

  it('a 110:1 image under a raised MAX_ASPECT_RATIO is accepted by the API and edited by the worker', async () => {
    const response = await submit(await pngOf(660, 6), 'image/png');
    assert.equal(response.status, 202, await response.clone().text());
    const accepted = (await response.json()) as EditObject;
    const { edit } = await waitForEdit(stack, accepted.id, isTerminal, 120_000);
    assert.equal(edit.status, 'succeeded', JSON.stringify(edit.error));
    const output = await downloadImage(edit.output!.url);
    assert.deepEqual([output.width, output.height], [660, 6]);
  });

  it('over the limits, the API answers 422 with the code the worker would have failed with', async () => {
    const tooLarge = await submit(await pngOf(80, 80), 'image/png'); // 6400 px > 5000
    assert.equal(tooLarge.status, 422);
    assert.deepEqual(((await tooLarge.json()) as ErrorBody).error.code, 'image_too_large');
    const tooWide = await submit(await pngOf(630, 5), 'image/png'); // 126:1 > 120:1
    assert.equal(tooWide.status, 422);
    assert.deepEqual(((await tooWide.json()) as ErrorBody).error.code, 'unsupported_aspect_ratio');
  });

  it('refuses SVG input, even one referencing another resource, with 415 on param image', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64">' +
        `<image xlink:href="${stack.receiver.urlFor('/x.png')}" width="64" height="64"/></svg>`,
    );
    const response = await submit(svg, 'image/svg+xml');
    assert.equal(response.status, 415);
    const body = (await response.json()) as ErrorBody;
    assert.deepEqual([body.error.code, body.error.param], ['unsupported_media_type', 'image']);
    assert.deepEqual(
      stack.receiver.requests.filter((r) => r.path === '/x.png'),
      [],
      'the referenced resource was never fetched',
    );
  });
});
