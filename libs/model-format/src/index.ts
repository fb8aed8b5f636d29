export * from './model-format';
export * from './model-format.checks';
export * from './latent-preview';
