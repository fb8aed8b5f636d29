export * from './ip-address';
export * from './address-policy';
export * from './egress-errors';
export * from './egress-guard';
