export * from './signer';
export * from './webhook-event';
export * from './retry-schedule';
export * from './sender';
