export {};
export * from './preprocess/image.types';
export * from './preprocess/resample';
export * from './preprocess/size-level';
