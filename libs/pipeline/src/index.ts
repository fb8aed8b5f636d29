export {};
export * from './preprocess/image.types';
export * from './preprocess/resample';
export * from './preprocess/size-level';
export * from './sampler/time-shift';
export * from './sampler/cfg';
export * from './sampler/flow-match-euler';
export * from './dit/packing';
export * from './dit/rope';
