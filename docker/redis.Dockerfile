# Redis from Debian for machines without a registry (the offline compose profile, CI). Production compose uses the
# upstream redis image; both run deploy/redis.conf (AOF on). Base as a build argument (docs/DEPLOY.md, "Images").
ARG DEBIAN_BASE=debian:bookworm-slim
FROM ${DEBIAN_BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
USER redis
WORKDIR /data
LABEL org.opencontainers.image.title="step1x-redis-offline" \
      org.opencontainers.image.description="redis-server from Debian bookworm for the offline compose profile"
HEALTHCHECK --interval=5s --timeout=15s --retries=5 CMD ["sh", "-c", "redis-cli -a \"$REDIS_PASSWORD\" --no-auth-warning ping | grep -q PONG"]
CMD ["redis-server", "/etc/redis/step1x.conf"]
