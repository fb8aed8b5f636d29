#!/usr/bin/env node
'use strict';
// HEALTHCHECK of the worker images: healthy when the worker's health server (WORKER_HEALTH_PORT) says ready, i.e.
// the models are loaded and warm and Redis answers PING (apps/worker/src/health/worker-health-server.ts).
// docs/DEPLOY.md, "Health checks".
const port = process.env.WORKER_HEALTH_PORT || '8081';
fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5000) }).then(
  async (response) => {
    if (!response.ok) console.error(`not ready: ${response.status} ${await response.text()}`);
    process.exit(response.ok ? 0 : 1);
  },
  (error) => {
    console.error(`no answer on the worker health port ${port}: ${error.message}`);
    process.exit(1);
  },
);
