import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './api-error';
import { EDIT_PARAMS, editParamProblems, type EditParamName } from './edit-params';
import { EDIT_REQUEST_DEFAULTS, parseEditRequest } from './edit-request.schema';
import { apiComponentSchemas, EDIT_OBJECT_JSON_SCHEMA, type JsonSchema } from './openapi-schemas';

type ApiField = EditParamName;

/** Values around every edge: [API field, value]. */
const CASES: [ApiField, unknown][] = [
  ['seed', -1],
  ['seed', 0],
  ['seed', 2 ** 32 - 1],
  ['seed', 2 ** 32],
  ['seed', 1.5],
  ['steps', 0],
  ['steps', 1],
  ['steps', 100],
  ['steps', 101],
  ['steps', 2.5],
  ['guidance', 0.99],
  ['guidance', 1],
  ['guidance', 20],
  ['guidance', 20.01],
  ['size_level', 256],
  ['size_level', 512],
  ['size_level', 768],
  ['size_level', 1024],
  ['size_level', 640],
  ['output_format', 'png'],
  ['output_format', 'webp'],
  ['output_format', 'gif'],
  ['instruction', 'a'],
  ['instruction', '😀'.repeat(2000)],
  ['instruction', 'a'.repeat(2001)],
  ['instruction', ' \n\t'],
  ['instruction', 'hi <|vision_start|>'],
  ['instruction', 'a\u0000b'],
  ['instruction', 'lone \ud83d high'],
  ['instruction', 'lone \ude00 low'],
  ['instruction', 'paired \ud83d\ude00 ok'],
];

const PIPELINE_NAME: Record<ApiField, string> = {
  instruction: 'instruction',
  seed: 'seed',
  steps: 'steps',
  guidance: 'guidance',
  size_level: 'sizeLevel',
  output_format: 'outputFormat',
};

/** The API's verdict: null when accepted, else the error's code. */
function apiVerdict(field: ApiField, value: unknown): string | null {
  const body: Record<string, unknown> = { instruction: 'make it blue', image_key: 'k', [field]: value };
  try {
    parseEditRequest(body, false);
    return null;
  } catch (error) {
    assert.ok(error instanceof ApiError);
    assert.equal(error.param, field);
    return error.code;
  }
}

function sharedVerdict(field: ApiField, value: unknown): string | null {
  const problems = editParamProblems({ [PIPELINE_NAME[field]]: value });
  if (problems.length === 0) return null;
  assert.equal(problems[0].param, field);
  return problems[0].code;
}

describe('EDIT_PARAMS: one definition of the edit parameters', () => {
  it('the API schema and the shared check (pipeline, CLI) give the same verdict and code on every edge', () => {
    for (const [field, value] of CASES) {
      const api = apiVerdict(field, value);
      const shared = sharedVerdict(field, value);
      assert.equal(shared, api, `${field}=${JSON.stringify(value).slice(0, 40)}: API ${api}, shared ${shared}`);
    }
  });

  it('refuses NUL and unpaired surrogates in the instruction (400 invalid_request), keeps paired ones', () => {
    assert.equal(apiVerdict('instruction', 'make it \u0000 blue'), 'invalid_request');
    assert.equal(apiVerdict('instruction', 'make it \ud800 blue'), 'invalid_request');
    assert.equal(apiVerdict('instruction', 'make it \udfff blue'), 'invalid_request');
    assert.equal(apiVerdict('instruction', 'make it 😀 blue'), null);
  });

  it('the API defaults are the shared defaults', () => {
    assert.equal(EDIT_REQUEST_DEFAULTS.steps, EDIT_PARAMS.steps.default);
    assert.equal(EDIT_REQUEST_DEFAULTS.guidance, EDIT_PARAMS.guidance.default);
    assert.equal(EDIT_REQUEST_DEFAULTS.size_level, EDIT_PARAMS.sizeLevel.default);
    assert.equal(EDIT_REQUEST_DEFAULTS.output_format, EDIT_PARAMS.outputFormat.default);
  });

  it('a models folder may declare other size levels: the shared check takes them', () => {
    assert.deepEqual(editParamProblems({ sizeLevel: 128 }, [128, 256]), []);
    assert.equal(editParamProblems({ sizeLevel: 512 }, [128, 256])[0].code, 'out_of_range');
  });

  it('the OpenAPI document states the same ranges, levels and formats', () => {
    const schemas = apiComponentSchemas();
    for (const name of ['CreateEditRequest', 'CreateEditMultipart']) {
      const props = (schemas[name] as { properties: Record<string, JsonSchema> }).properties;
      assert.equal(props.instruction.maxLength, EDIT_PARAMS.instruction.maxCodePoints, name);
      assert.equal(props.instruction.minLength, EDIT_PARAMS.instruction.minCodePoints, name);
      if (name === 'CreateEditRequest') {
        assert.equal(props.steps.maximum, EDIT_PARAMS.steps.max);
        assert.equal(props.steps.minimum, EDIT_PARAMS.steps.min);
        assert.equal(props.guidance.maximum, EDIT_PARAMS.guidance.max);
        const seed = ((props.seed.anyOf as JsonSchema[] | undefined) ?? [props.seed]).find((s) => s.type === 'integer');
        assert.deepEqual([seed?.minimum, seed?.maximum], [EDIT_PARAMS.seed.min, EDIT_PARAMS.seed.max]);
        assert.equal(props.steps.default, EDIT_PARAMS.steps.default);
        assert.equal(props.guidance.default, EDIT_PARAMS.guidance.default);
      }
    }
    const input = (
      (EDIT_OBJECT_JSON_SCHEMA.properties as Record<string, JsonSchema>).input as {
        properties: Record<string, JsonSchema>;
      }
    ).properties;
    assert.deepEqual(input.size_level.enum, [...EDIT_PARAMS.sizeLevel.levels]);
    assert.deepEqual(input.output_format.enum, [...EDIT_PARAMS.outputFormat.values]);
    assert.deepEqual([input.steps.minimum, input.steps.maximum], [EDIT_PARAMS.steps.min, EDIT_PARAMS.steps.max]);
    assert.deepEqual(
      [input.guidance.minimum, input.guidance.maximum],
      [EDIT_PARAMS.guidance.min, EDIT_PARAMS.guidance.max],
    );
  });
});
