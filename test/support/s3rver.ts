// The implementation is shared with `step1x start` (libs/local-services).
export { s3rverEnv, startS3rver, type S3rverHandle, type StartS3rverOptions } from '@step1x/local-services';
