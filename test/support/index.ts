export * from './free-port';
export * from './managed-process';
export * from './redis-server';
export * from './s3rver';
export * from './webhook-receiver';
export * from './netns';
export * from './tiny-models';
