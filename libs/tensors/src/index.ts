export * from './dtype';
export * from './safetensors';
export * from './compare';
export * from './golden-root';
export * from './random';
export * from './transcode';
