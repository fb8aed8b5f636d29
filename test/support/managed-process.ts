// The implementation is shared with `step1x start` (libs/local-services).
export { describeExit, spawnManaged, type ManagedProcess, type ProcessExit } from '@step1x/local-services';
