#!/usr/bin/env node
'use strict';
// HEALTHCHECK of the worker image (the worker serves no HTTP): healthy when the worker process is running (not a
// zombie) and Redis, where its jobs come from, answers PING within 3 s. docs/DEPLOY.md, "Health checks".
const { readdirSync, readFileSync } = require('node:fs');

function workerRunning() {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (cmdline.includes('apps/worker/dist/main.js') && state !== 'Z') return true;
    } catch {
      // The process went away while we looked.
    }
  }
  return false;
}

async function redisAnswers() {
  if (!process.env.REDIS_URL) return false;
  const { Redis } = require('ioredis');
  const client = new Redis(process.env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000 });
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

(async () => {
  if (!workerRunning()) {
    console.error('the worker process is not running');
    process.exit(1);
  }
  if (!(await redisAnswers())) {
    console.error('Redis does not answer');
    process.exit(1);
  }
  process.exit(0);
})();
