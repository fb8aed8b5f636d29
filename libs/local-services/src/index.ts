export * from './local-service-error';
export * from './free-port';
export * from './managed-process';
export * from './redis-server';
export * from './s3rver';
export * from './redis-cluster';
