export * from './dtype';
export * from './safetensors';
export * from './compare';
