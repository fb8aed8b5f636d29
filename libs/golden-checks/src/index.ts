export * from './case-result';
export * from './run-golden';
export * from './step1x-tiny.check';
export * from './qwen25vl-tiny.check';
export * from './mllm-inputs.check';
export * from './step1x-e2e.check';
