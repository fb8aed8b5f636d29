export * from './ip-address';
export * from './address-policy';
export * from './egress-errors';
export * from './egress-guard';
export * from './signer';
export * from './webhook-event';
export * from './retry-schedule';
export * from './sender';
