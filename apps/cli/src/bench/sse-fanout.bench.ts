/**
 * SSE fan-out on one API process (CONTRACT.md "Live events and previews"): 100 concurrent `GET /v1/edits/{id}/events`
 * streams on one edit while events are appended to its Redis stream at 20/s (as a worker would, with bodies the
 * size of a real edit object). Reports the API's RSS idle / with the streams open, its CPU per delivered event,
 * and the append → last-client latency. Fails when a stream misses or repeats an event.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { RedisEditEventLog, RedisKeys } from '@step1x/edit-store';
import { startRedisServer, startS3rver, s3rverEnv } from '@step1x/local-services';
import { percentile, startService } from './bench-service';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 100);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 200);
const EVENTS_PER_SECOND = 20;
const TENANT = 'bench';
const API_KEY = 'sk_bench_0123456789abcdef';
const PREFIX = 'bench';

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // USER_HZ 100
}

interface Client {
  ids: string[];
  ended: Promise<void>;
}

/** A minimal SSE reader: collects the `id:` of every event frame, notes when each arrived. */
function follow(url: string, arrivals: Map<string, number[]>): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ids: string[] = [];
    void fetch(url, { headers: { authorization: `Bearer ${API_KEY}` } }).then(async (response) => {
      if (response.status !== 200) return reject(new Error(`SSE answered ${response.status}`));
      const ended = (async () => {
        const decoder = new TextDecoder();
        let buffer = '';
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const id = /^id: (.+)$/m.exec(frame)?.[1];
            if (!id) continue;
            ids.push(id);
            const list = arrivals.get(id) ?? [];
            list.push(performance.now());
            arrivals.set(id, list);
          }
        }
      })();
      resolve({ ids, ended });
    }, reject);
  });
}

async function main(): Promise<void> {
  const redisServer = await startRedisServer();
  const s3 = await startS3rver();
  const redis = new Redis(redisServer.url);
  const api = await startService(
    {
      ROLE: 'api',
      PORT: '0',
      LOG_LEVEL: 'warn',
      REDIS_URL: redisServer.url,
      REDIS_KEY_PREFIX: PREFIX,
      ...s3rverEnv(s3),
      API_KEYS: `${TENANT}:${API_KEY}`,
    },
    /is up at (http:\/\/\S+)/,
  );
  const base = api.url!.origin;
  const pid = api.child.pid as number;
  let failed = false;
  try {
    const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3080c0' } })
      .png()
      .toBuffer();
    const form = new FormData();
    form.set('instruction', 'make it blue');
    form.set('image', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'in.png');
    const created = await fetch(`${base}/v1/edits`, {
      method: 'POST',
      body: form,
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    const edit = (await created.json()) as Record<string, unknown> & { id: string };
    const body = JSON.stringify({ type: 'edit.progress', timestamp: new Date().toISOString(), data: edit });
    const rssIdle = rssMiB(pid);

    const arrivals = new Map<string, number[]>();
    const clients = await Promise.all(
      Array.from({ length: STREAMS }, () => follow(`${base}/v1/edits/${edit.id}/events`, arrivals)),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const rssOpen = rssMiB(pid);

    const log = new RedisEditEventLog(redis, new RedisKeys(PREFIX), { ttlS: 600, maxLen: 10_000 });
    const appendedAt = new Map<string, number>();
    const cpuBefore = cpuMs(pid);
    for (let i = 0; i < EVENTS; i++) {
      const last = i === EVENTS - 1;
      const started = performance.now();
      const id = await log.append(edit.id, last ? 'edit.completed' : 'edit.progress', body);
      appendedAt.set(id, started);
      await new Promise((resolve) => setTimeout(resolve, 1000 / EVENTS_PER_SECOND));
    }
    await Promise.all(clients.map((c) => c.ended));
    const cpuUsed = cpuMs(pid) - cpuBefore;
    const rssAfter = rssMiB(pid);

    const expected = [...appendedAt.keys()];
    const wrong = clients.filter((c) => c.ids.join() !== expected.join()).length;
    const latencies = expected.map((id) => Math.max(...(arrivals.get(id) ?? [Infinity])) - appendedAt.get(id)!);
    const delivered = STREAMS * EVENTS;
    console.log(
      `${STREAMS} streams × ${EVENTS} events (${(body.length / 1024).toFixed(1)} KB each, ${EVENTS_PER_SECOND}/s) on one API process:`,
    );
    console.log(
      `  API RSS ${rssIdle.toFixed(0)} MiB idle → ${rssOpen.toFixed(0)} MiB with the streams open ` +
        `(${(((rssOpen - rssIdle) * 1024) / STREAMS).toFixed(0)} KiB per stream) → ${rssAfter.toFixed(0)} MiB after`,
    );
    console.log(
      `  API CPU ${cpuUsed} ms for ${delivered} deliveries: ${((cpuUsed * 1000) / delivered).toFixed(1)} µs per event per ` +
        `stream, ${((cpuUsed / ((EVENTS / EVENTS_PER_SECOND) * 1000)) * 100).toFixed(1)} % of one core`,
    );
    console.log(
      `  append → last of ${STREAMS} clients: p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
    );
    console.log(`  streams with a missing, extra or reordered event: ${wrong}`);
    failed = wrong > 0;
  } finally {
    await api.stop();
    redis.disconnect();
    await s3.stop();
    await redisServer.stop();
  }
  process.exitCode = failed ? 1 : 0;
}

void main();
