import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../graph/graph-builder';
import { DEFAULT_BUILD_OPTIONS } from '../graph/module';
import { buildQwenGraphs } from '../models/qwen2_5_vl/qwen-graphs';
import {
  buildConnectorGraph,
  buildDitGraph,
  buildVaeDecoderGraph,
  buildVaeEncoderGraph,
} from '../models/step1x-graphs';
import { namedQwenConfig } from './tiny-qwen-models';
import { namedConfig } from './tiny-models';
import { assertBuiltSignature } from './built-signature';

describe('graphs as built match @step1x/model-format', () => {
  it('holds for every Step1X and Qwen graph, debug outputs included', () => {
    const config = namedConfig('tiny');
    assertBuiltSignature('connector', buildConnectorGraph(config, DEFAULT_BUILD_OPTIONS));
    assertBuiltSignature('dit', buildDitGraph(config, DEFAULT_BUILD_OPTIONS));
    assertBuiltSignature('vae_encoder', buildVaeEncoderGraph(config, DEFAULT_BUILD_OPTIONS));
    assertBuiltSignature('vae_decoder', buildVaeDecoderGraph(config, DEFAULT_BUILD_OPTIONS));
    for (const debugOutputs of [false, true]) {
      const qwen = buildQwenGraphs(namedQwenConfig('tiny'), DEFAULT_BUILD_OPTIONS, { debugOutputs });
      assertBuiltSignature('qwen_vision', qwen.qwen_vision);
      assertBuiltSignature('qwen_llm', qwen.qwen_llm);
    }
  });

  it('refuses a renamed input, a wrong dtype or rank, and a missing output', () => {
    const decoder = (name: string, dtype: 'float32' | 'int64', rank: number, output: string) => {
      const g = new GraphBuilder('vae_decoder');
      const x = g.input(
        name,
        dtype,
        Array.from({ length: rank }, (_, i) => `d${i}`),
      );
      g.output(
        x,
        output,
        Array.from({ length: rank }, (_, i) => `d${i}`),
      );
      return g;
    };
    assert.doesNotThrow(() => assertBuiltSignature('vae_decoder', decoder('latent', 'float32', 4, 'image')));
    for (const [g, why] of [
      [decoder('z', 'float32', 4, 'image'), 'renamed input'],
      [decoder('latent', 'int64', 4, 'image'), 'dtype'],
      [decoder('latent', 'float32', 3, 'image'), 'rank'],
      [decoder('latent', 'float32', 4, 'pixels'), 'output'],
    ] as const) {
      assert.throws(
        () => assertBuiltSignature('vae_decoder', g),
        /graph vae_decoder does not match @step1x\/model-format/,
        why,
      );
    }
  });
});
