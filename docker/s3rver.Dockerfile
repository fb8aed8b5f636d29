# s3rver (an S3 API on local disk) for the offline compose profile and CI, where no MinIO image can be pulled.
# Never for production: compose.yaml runs MinIO there. Base as a build argument (docs/DEPLOY.md, "Images").
ARG NODE_BASE=node:22-bookworm-slim
FROM ${NODE_BASE}
ARG S3RVER_VERSION=3.7.1
RUN --mount=type=secret,id=build_ca \
    if [ -s /run/secrets/build_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build_ca; fi; \
    npm install --global --no-audit --no-fund "s3rver@${S3RVER_VERSION}" \
 && mkdir -p /data && chown 10001:10001 /data
USER 10001:10001
EXPOSE 4568
LABEL org.opencontainers.image.title="step1x-s3rver-offline" \
      org.opencontainers.image.description="s3rver for the offline compose profile (not for production)"
HEALTHCHECK --interval=5s --timeout=15s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:4568/').then(()=>process.exit(0),()=>process.exit(1))"]
# --no-vhost-buckets: the service reaches it as http://s3:4568, which s3rver would otherwise read as bucket "s3".
CMD ["s3rver", "--directory", "/data", "--address", "0.0.0.0", "--port", "4568", "--no-vhost-buckets", "--configure-bucket", "step1x-edits"]
