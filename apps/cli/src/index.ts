export * from './golden/case-result';
export * from './golden/run-golden';
export * from './golden/step1x-tiny.check';
export * from './golden/qwen25vl-tiny.check';
