import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '@step1x/contracts';
import { StorageError } from '@step1x/storage';
import { DEPENDENCY_RETRY_AFTER_S, toErrorResponse } from './error-response';

function frameworkError(statusCode: number, code: string, message = 'framework says no'): Error {
  return Object.assign(new Error(message), { statusCode, code });
}

describe('toErrorResponse', () => {
  it('passes an ApiError through with its status, param and headers', () => {
    const response = toErrorResponse(new ApiError('queue_full', 'busy', { headers: { 'Retry-After': '30' } }));
    assert.equal(response.status, 429);
    assert.deepEqual(response.body, { error: { code: 'queue_full', message: 'busy', param: null } });
    assert.deepEqual(response.headers, { 'Retry-After': '30' });
  });

  it('maps Fastify and multipart errors by status into the contract codes', () => {
    const cases: Array<[Error, number, string]> = [
      [frameworkError(413, 'FST_ERR_CTP_BODY_TOO_LARGE'), 413, 'payload_too_large'],
      [frameworkError(413, 'FST_REQ_FILE_TOO_LARGE'), 413, 'payload_too_large'],
      [frameworkError(415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE'), 415, 'unsupported_media_type'],
      [frameworkError(406, 'FST_INVALID_MULTIPART_CONTENT_TYPE'), 415, 'unsupported_media_type'],
      [frameworkError(400, 'FST_ERR_CTP_INVALID_JSON_BODY'), 400, 'invalid_request'],
      [frameworkError(404, 'NOT_FOUND'), 404, 'not_found'],
      [frameworkError(414, 'FST_ERR_MAX_PARAM_LENGTH'), 400, 'invalid_request'],
      [frameworkError(405, 'METHOD'), 400, 'invalid_request'],
    ];
    for (const [error, status, code] of cases) {
      const response = toErrorResponse(error);
      assert.equal(response.status, status, code);
      assert.equal(response.body.error.code, code);
      assert.equal(response.body.error.param, null);
    }
  });

  it('maps Nest HttpExceptions through getStatus()', () => {
    const nestLike = Object.assign(new Error('Cannot GET /x'), { getStatus: () => 404 });
    assert.equal(toErrorResponse(nestLike).body.error.code, 'not_found');
  });

  it('hides the details of unexpected errors behind a 500', () => {
    const response = toErrorResponse(new TypeError('secret internals at line 42'));
    assert.equal(response.status, 500);
    assert.equal(response.body.error.code, 'internal_error');
    assert.ok(!response.body.error.message.includes('secret'));
    assert.equal(toErrorResponse('a string').status, 500);
  });

  it('answers 503 with Retry-After when Redis or S3 is out of reach, not 500', () => {
    const outages = [
      new StorageError('storage_unavailable', 'put inputs/acme/x failed: connect ECONNREFUSED 127.0.0.1:9000'),
      Object.assign(new Error('Reached the max retries per request limit (which is 3).'), {
        name: 'MaxRetriesPerRequestError',
      }),
      new Error('Connection is closed.'),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }),
    ];
    for (const outage of outages) {
      const response = toErrorResponse(outage);
      assert.equal(response.status, 503, outage.message);
      assert.equal(response.body.error.code, 'service_unavailable');
      assert.ok(!response.body.error.message.includes('ECONNREFUSED'), 'no internals in the message');
      assert.deepEqual(response.headers, { 'Retry-After': String(DEPENDENCY_RETRY_AFTER_S) });
    }
  });

  it('gives every 503 a Retry-After, keeping one the error set itself', () => {
    assert.deepEqual(toErrorResponse(new ApiError('service_unavailable', 'queue down')).headers, {
      'Retry-After': String(DEPENDENCY_RETRY_AFTER_S),
    });
    const own = new ApiError('service_unavailable', 'queue down', { headers: { 'Retry-After': '9' } });
    assert.deepEqual(toErrorResponse(own).headers, { 'Retry-After': '9' });
  });

  it('keeps a Redis error reply (a bug of ours, not an outage) a 500', () => {
    assert.equal(toErrorResponse(Object.assign(new Error('WRONGTYPE Operation'), { name: 'ReplyError' })).status, 500);
  });
});
