export * from './object-store.port';
export * from './storage-errors';
export * from './s3-object-store';
// The shared backend test suite is imported by path (`@step1x/storage/object-store.contract`, a package subpath) so that
// production code never loads node:test.
