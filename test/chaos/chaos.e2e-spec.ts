import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EditObject } from '@step1x/contracts';
import { RedisKeys, type DeliveryLogEntry } from '@step1x/edit-store';
import { BullmqJobQueue } from '@step1x/job-queue';
import { multipartOf, pngOf, verifiedEvent } from '../e2e/service-harness';
import { startChaosStack, type ChaosStack } from './chaos-stack';
import { ChaosLedger, countRow, editsById, renderTable, waitUntilTerminal, type ChaosRow } from './chaos-ledger';

/**
 * Faults against the real processes (docs/ARCHITECTURE.md "Chaos suite"): every accepted edit must end terminal,
 * none lost, no output written twice, one edit per Idempotency-Key. `CHAOS_PROFILE=full` (`npm run chaos`) runs the
 * issue's sizes; the default `ci` profile runs the same faults smaller so that it fits in `npm test`.
 */
const PROFILES = {
  full: {
    workerKills: 10,
    killsAfterPut: 3,
    queuedEdits: 500,
    drainAfterRedis: 4,
    redisDownMs: 10_000,
    s3DownMs: 30_000,
    hookEdits: 4,
    keys: 20,
    apiKills: 4,
  },
  ci: {
    workerKills: 2,
    killsAfterPut: 1,
    queuedEdits: 40,
    drainAfterRedis: 2,
    redisDownMs: 3_000,
    s3DownMs: 8_000,
    hookEdits: 2,
    keys: 6,
    apiKills: 2,
  },
} as const;
const profileName = (process.env.CHAOS_PROFILE ?? 'ci') as keyof typeof PROFILES;
const PROFILE = PROFILES[profileName];
if (!PROFILE) throw new Error(`CHAOS_PROFILE must be one of ${Object.keys(PROFILES).join(', ')}`);

const KEYS = new RedisKeys('chaos');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`chaos (${profileName} profile, real processes)`, { concurrency: false }, () => {
  let stack: ChaosStack;
  let png: Buffer;
  const rows: ChaosRow[] = [];

  before(async () => {
    png = await pngOf(64, 48);
    stack = await startChaosStack({
      // Workers retry infrastructure errors long enough to outlive an S3 outage (1+2+…+64 s).
      EDIT_MAX_ATTEMPTS: '8',
      EDIT_RETRY_BACKOFF_MS: '1000',
      // Kills are aimed at edits that were never killed before; two stalls per edit are allowed as in production.
      BULLMQ_MAX_STALLED_COUNT: '2',
      // Webhook retries span ~2 min, longer than the receiver's outage.
      WEBHOOK_RETRY_SCHEDULE: '0,1s,2s,4s,8s,15s,30s,30s,30s',
      WEBHOOK_RETRY_JITTER: '0',
    });
  });
  after(async () => {
    if (rows.length > 0) console.log(`\nchaos table (${profileName} profile)\n${renderTable(rows)}\n`);
    await stack?.stop();
  });

  /** POST /v1/edits (multipart); 2xx → the edit, otherwise the status (or 'network'). */
  const submit = async (
    fields: Record<string, string>,
    headers: Record<string, string> = {},
    timeoutMs = 30_000,
  ): Promise<{ status: number | 'network'; edit?: EditObject; body?: unknown; retryAfter?: string | null }> => {
    try {
      const response = await stack.call('/v1/edits', {
        method: 'POST',
        headers,
        body: multipartOf({ instruction: 'make it green', steps: '1', ...fields }, { bytes: png, type: 'image/png' }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = (await response.json()) as unknown;
      const retryAfter = response.headers.get('retry-after');
      return response.status < 300
        ? { status: response.status, edit: body as EditObject }
        : { status: response.status, body, retryAfter };
    } catch {
      return { status: 'network' };
    }
  };

  const finish = async (ledger: ChaosLedger, notes: string, settleMs = 600_000) => {
    await waitUntilTerminal(stack, ledger, settleMs);
    const row = await countRow(stack, ledger, notes);
    rows.push(row);
    const problems = ledger.problems.slice(0, 20).join('\n');
    assert.equal(row.lost, 0, `lost edits:\n${problems}`);
    assert.equal(row.duplicated, 0, `duplicated outputs or edits:\n${problems}`);
    assert.equal(row.submitted, row.succeeded + row.failed + row.canceled, 'every edit terminal');
    return row;
  };

  it(`SIGKILL a worker mid-edit ${PROFILE.workerKills} times under a stream of edits`, async () => {
    const ledger = new ChaosLedger(`worker SIGKILL mid-edit ×${PROFILE.workerKills}`);
    await stack.supervisor.settle(1);
    const killedIds = new Set<string>();
    let streaming = true;
    // Keeps two edits waiting behind the running one, so a kill always hits a worker with work queued behind it.
    const stream = (async () => {
      while (streaming) {
        const open = [...ledger.accepted.keys()].filter((id) => !killedIds.has(id)).length;
        const byId = await editsById(stack);
        const waiting = [...ledger.accepted.keys()].filter((id) => byId.get(id)?.status === 'queued').length;
        if (waiting < 2 && open < 200) {
          const answer = await submit({ steps: '3' });
          if (answer.edit) ledger.accept(answer.edit);
          else ledger.refuse(answer.status);
        }
        await sleep(300);
      }
    })();
    try {
      for (let kill = 0; kill < PROFILE.workerKills; kill++) {
        const deadline = Date.now() + 300_000;
        let victim: string | undefined;
        while (!victim) {
          assert.ok(Date.now() < deadline, `no fresh edit ran within 5 min (kill ${kill + 1})`);
          const byId = await editsById(stack);
          victim = [...ledger.accepted.keys()].find((id) => {
            const edit = byId.get(id);
            return edit?.status === 'running' && edit.progress.step >= 1 && !killedIds.has(id);
          });
          if (!victim) await sleep(100);
        }
        const [worker] = stack.supervisor.workers();
        killedIds.add(victim);
        worker.kill('SIGKILL');
        await worker.exited;
        await stack.supervisor.settle(1); // the supervisor has restarted it
      }
    } finally {
      streaming = false;
      await stream;
    }
    assert.equal(stack.supervisor.restarts >= PROFILE.workerKills, true);
    await finish(ledger, `${killedIds.size} kills, ${stack.supervisor.restarts} restarts`);
  });

  it(`SIGKILL a worker right after S3 acknowledged its output, ${PROFILE.killsAfterPut} times`, async () => {
    const ledger = new ChaosLedger(`worker SIGKILL between output PUT and record ×${PROFILE.killsAfterPut}`);
    await stack.supervisor.settle(1);
    let kills = 0;
    try {
      for (let i = 0; i < PROFILE.killsAfterPut; i++) {
        const [worker] = stack.supervisor.workers();
        const killed = new Promise<void>((resolve) => {
          stack.s3Proxy.onAcknowledgedPut('outputs/', async () => {
            stack.s3Proxy.onAcknowledgedPut('outputs/', null);
            worker.kill('SIGKILL');
            await worker.exited;
            kills++;
            resolve();
          });
        });
        const answer = await submit({});
        assert.ok(answer.edit, JSON.stringify(answer));
        ledger.accept(answer.edit);
        await killed;
        await stack.supervisor.settle(1);
      }
    } finally {
      stack.s3Proxy.onAcknowledgedPut('outputs/', null);
    }
    await finish(ledger, `${kills} kills after the output PUT`);
  });

  it(`restart Redis (AOF, deploy/redis.conf) under ${PROFILE.queuedEdits} queued edits`, async () => {
    const ledger = new ChaosLedger(`Redis restart, ${PROFILE.queuedEdits} queued`);
    // The restart only proves durability if Redis runs as in production (deploy/redis.conf).
    assert.deepEqual(await stack.redisClient.config('GET', 'appendonly'), ['appendonly', 'yes']);
    assert.deepEqual(await stack.redisClient.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction']);
    await stack.supervisor.stopAll();
    for (let i = 0; i < PROFILE.queuedEdits; i += 8) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(8, PROFILE.queuedEdits - i) }, () => submit({ priority: 'batch' })),
      );
      for (const answer of batch) {
        if (answer.edit) ledger.accept(answer.edit);
        else ledger.refuse(answer.status);
      }
    }
    assert.equal(ledger.accepted.size, PROFILE.queuedEdits, `every submit accepted: ${ledger.refusalSummary()}`);
    // One worker is mid-edit when Redis goes away.
    await stack.supervisor.start();
    const deadline = Date.now() + 120_000;
    while (![...(await editsById(stack)).values()].some((e) => e.status === 'running')) {
      assert.ok(Date.now() < deadline, 'no edit started');
      await sleep(100);
    }

    // While Redis is down the API holds a request until Redis is back (ioredis' offline queue) or answers 503 with
    // Retry-After; never a 500 and never longer than the client's patience.
    const redisDown = stack.restartRedis(PROFILE.redisDownMs);
    await sleep(300);
    const started = Date.now();
    const outageAnswer = await submit({}, {}, 30_000);
    const outageNote = `submit during the ${PROFILE.redisDownMs / 1000} s outage: ${outageAnswer.status} after ${Date.now() - started} ms`;
    await redisDown;
    if (outageAnswer.edit) ledger.accept(outageAnswer.edit);
    assert.ok(
      outageAnswer.edit || (outageAnswer.status === 503 && outageAnswer.retryAfter),
      `during the outage: ${JSON.stringify(outageAnswer)}`,
    );

    // Records and jobs survived: every accepted edit is still there, and each unfinished one is still queued (a
    // BullMQ job, or its place in its lane's fair queue) or running. The queue's own view says which.
    const connection = quietDuplicate(stack);
    const jobs = new BullmqJobQueue({ connection, keys: KEYS });
    try {
      const byId = await waitForApi(() => editsById(stack));
      const unfinished = [...ledger.accepted.keys()].filter((id) =>
        ['queued', 'running'].includes(byId.get(id)?.status ?? ''),
      );
      const missing = [...ledger.accepted.keys()].filter((id) => !byId.has(id));
      assert.deepEqual(missing, [], 'every accepted edit is listed after the restart');
      // A job left active by a finish that Redis missed is re-run and skipped (the edit is terminal): harmless.
      // What must hold is the other way round: no unfinished edit without a live job.
      const jobless: string[] = [];
      for (const id of unfinished) {
        const state = await jobs.editJobState(id);
        if (state !== 'queued' && state !== 'active') jobless.push(`${id} (${state})`);
      }
      assert.deepEqual(jobless, [], 'every unfinished edit still has its job or its place in the fair queue');
    } finally {
      await jobs.close();
      connection.disconnect();
    }

    // Let the worker run a few after the restart, then cancel the rest (running all would take hours on CPU).
    const drainDeadline = Date.now() + 300_000;
    for (;;) {
      const byId = await editsById(stack);
      const done = [...ledger.accepted.keys()].filter((id) => byId.get(id)?.status === 'succeeded').length;
      if (done >= PROFILE.drainAfterRedis) break;
      assert.ok(Date.now() < drainDeadline, `only ${done} edits finished after the Redis restart`);
      await sleep(500);
    }
    const byId = await editsById(stack);
    for (const id of ledger.accepted.keys()) {
      if (byId.get(id)?.status !== 'queued') continue;
      const response = await stack.call(`/v1/edits/${id}/cancel`, { method: 'POST' });
      if (![200, 409].includes(response.status)) ledger.problem(`cancel ${id}: ${response.status}`);
    }
    await finish(ledger, `${outageNote}; the rest canceled once ${PROFILE.drainAfterRedis} ran`);
  });

  it(`s3rver down for ${PROFILE.s3DownMs / 1000} s while edits run and the API accepts`, async () => {
    const ledger = new ChaosLedger(`s3rver down ${PROFILE.s3DownMs / 1000} s`);
    await stack.supervisor.settle(1);
    for (let i = 0; i < 3; i++) {
      const answer = await submit({});
      assert.ok(answer.edit, `accepted before the outage: ${JSON.stringify(answer)}`);
      ledger.accept(answer.edit);
    }
    await stack.s3Down();
    const outageEnds = Date.now() + PROFILE.s3DownMs;
    const slowest = { ms: 0 };
    while (Date.now() < outageEnds) {
      const started = Date.now();
      const answer = await submit({}, {}, 20_000);
      slowest.ms = Math.max(slowest.ms, Date.now() - started);
      if (answer.edit) ledger.accept(answer.edit);
      else {
        ledger.refuse(answer.status);
        if (answer.status !== 503 || !answer.retryAfter) {
          ledger.problem(`during the S3 outage: ${answer.status} ${JSON.stringify(answer.body)}`);
        }
      }
      await sleep(1000);
    }
    await stack.s3Up();
    for (let i = 0; i < 2; i++) {
      const answer = await submit({});
      assert.ok(answer.edit, `accepted after the outage: ${JSON.stringify(answer)}`);
      ledger.accept(answer.edit);
    }
    const notes = `API during outage: ${ledger.refusalSummary()}, slowest answer ${slowest.ms} ms`;
    await finish(ledger, notes);
    assert.deepEqual(
      ledger.problems.filter((p) => p.startsWith('during')),
      [],
      'only 503 + Retry-After while S3 is down',
    );
    assert.ok(slowest.ms < 15_000, `answered within 15 s during the outage (slowest ${slowest.ms} ms)`);
  });

  it('webhook receiver down, then up: every event delivered afterwards with a valid signature', async () => {
    const ledger = new ChaosLedger(`webhook receiver down, then up`);
    await stack.supervisor.settle(1);
    const secret = ((await (await stack.call('/v1/webhooks/secret')).json()) as { secret: string }).secret;
    await stack.receiverDown();
    for (let i = 0; i < PROFILE.hookEdits; i++) {
      const answer = await submit({ webhook_url: stack.receiver.urlFor(`/chaos/hook-${i}`) });
      assert.ok(answer.edit, JSON.stringify(answer));
      ledger.accept(answer.edit);
    }
    await waitUntilTerminal(stack, ledger, 300_000);
    await sleep(1000);
    await stack.receiverUp();

    // What the service tried to send (its delivery log) must all arrive, each verified with `standardwebhooks`.
    const attempted = new Map<string, string>(); // message id → edit id
    const redis = stack.redisClient;
    for (const id of ledger.accepted.keys()) {
      for (const item of await redis.lrange(KEYS.editDeliveries(id), 0, -1)) {
        attempted.set((JSON.parse(item) as DeliveryLogEntry).message_id, id);
      }
    }
    const delivered = () => {
      const ids = new Set<string>();
      for (const request of stack.receiver.requests) {
        if (!request.path.startsWith('/chaos/hook-')) continue;
        verifiedEvent(secret, request); // throws on a bad signature
        ids.add(String(request.headers['webhook-id']));
      }
      return ids;
    };
    const deadline = Date.now() + 120_000;
    let missing = [...attempted.keys()].filter((m) => !delivered().has(m));
    while (missing.length > 0 && Date.now() < deadline) {
      await sleep(500);
      missing = [...attempted.keys()].filter((m) => !delivered().has(m));
    }
    const completed = stack.receiver.requests.filter((r) => r.text.includes('"type":"edit.completed"'));
    const row = await finish(ledger, `${attempted.size} events, ${delivered().size} delivered and verified`);
    assert.deepEqual(missing, [], 'every event the service sent arrived after the receiver came back');
    for (const id of ledger.accepted.keys()) {
      assert.ok(
        completed.some((r) => verifiedEvent(secret, r).data.id === id),
        `edit.completed of ${id} delivered`,
      );
    }
    assert.ok(row.submitted > 0);
  });

  it(`SIGKILL the API ${PROFILE.apiKills} times while clients submit with Idempotency-Key and retry`, async () => {
    const ledger = new ChaosLedger(`API SIGKILL ×${PROFILE.apiKills} under Idempotency-Key retries`);
    await stack.supervisor.settle(1);
    const run = Date.now().toString(36);
    const keys: string[] = [];
    const unanswered: string[] = [];
    const client = async (key: string) => {
      const deadline = Date.now() + 120_000;
      const fields = { metadata: JSON.stringify({ chaos_key: key }) };
      for (;;) {
        const answer = await submit(fields, { 'idempotency-key': key }, 20_000);
        if (answer.edit) {
          ledger.accept(answer.edit, key);
          return;
        }
        ledger.refuse(answer.status);
        if (typeof answer.status === 'number' && answer.status < 500 && answer.status !== 409) {
          ledger.problem(`${key}: ${answer.status} ${JSON.stringify(answer.body)}`);
          return;
        }
        if (Date.now() > deadline) {
          unanswered.push(`${key} (last: ${answer.status} ${JSON.stringify(answer.body)})`);
          return;
        }
        await sleep(200);
      }
    };
    // Four clients submit new keys until the kills are over (and at least PROFILE.keys keys were used).
    let killing = true;
    const clients = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (killing || keys.length < PROFILE.keys) {
          const key = `chaos-${run}-${keys.length}`;
          keys.push(key);
          await client(key);
        }
      }),
    );
    try {
      for (let kill = 0; kill < PROFILE.apiKills; kill++) {
        await sleep(300 + Math.floor(Math.random() * 700));
        await stack.killApi();
        await stack.startApi();
      }
    } finally {
      killing = false;
    }
    await clients;
    const row = await finish(ledger, `client answers: ${ledger.refusalSummary() || 'all first time'}`);
    assert.deepEqual(unanswered, [], 'every client got an answer for its key');
    assert.equal(row.submitted, keys.length, 'one accepted edit per key');
    assert.deepEqual(ledger.problems, []);
  });
});

/** Retries `read` while the service reconnects to Redis after a restart. */
async function waitForApi<T>(read: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await read();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(500);
    }
  }
}

function quietDuplicate(stack: ChaosStack) {
  const client = stack.redisClient.duplicate({ maxRetriesPerRequest: null });
  client.on('error', () => undefined);
  return client;
}
