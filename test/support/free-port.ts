// The implementation is shared with `step1x start` (libs/local-services).
export { getFreePort } from '@step1x/local-services';
