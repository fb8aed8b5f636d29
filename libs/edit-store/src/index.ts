export * from './redis-keys';
export * from './store.ports';
export * from './edit-record.codec';
export * from './redis-connection';
export * from './redis-edit-repository';
export * from './redis-stores';
export * from './edit-events';
export * from './redis-edit-events';
