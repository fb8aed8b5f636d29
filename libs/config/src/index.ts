export * from './env-var';
export * from './config.schema';
export * from './load-config';
export * from './env-table';
