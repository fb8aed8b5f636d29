export * from './job-queue.port';
export * from './lanes';
export * from './job-registry';
export * from './redis-cancel-bus';
export * from './bullmq-job-queue';
export * from './bullmq-job-consumer';
export * from './edit-reconciler';
export * from './batch-finalizer';
