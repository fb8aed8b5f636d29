// The fleet test (docs/DEPLOY.md, "Fleet test"): the local stand-in for a cluster. Real processes only: redis-server,
// s3rver behind a write-counting proxy, two API processes sharing nothing but Redis and S3, and a pool of worker
// processes whose size an autoscaler loop sets from GET /internal/scaling with the KEDA ScaledObject's own rule
// (scaling-rule.ts). A bursty load goes in; on the way one worker is SIGKILLed and scale-in SIGTERMs others.
import { randomUUID } from 'node:crypto';
import type { EditObject } from '@step1x/contracts';
import {
  API_MAIN,
  FAST_TIMINGS,
  multipartOf,
  pngOf,
  spawnService,
  WORKER_MAIN,
  type ServiceProcess,
} from '../e2e/service-harness';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import { startS3rver, type S3rverHandle } from '../support/s3rver';
import { tinyModelsDir } from '../support/tiny-models';
import { startCountingS3Proxy, type CountingS3Proxy } from './counting-s3-proxy';
import { loadScalingRule, scaleRuleTime, ScalingController, type ScalingRule } from './scaling-rule';

export interface FleetProfile {
  name: string;
  /** Edits per burst; bursts start `burstGapMs` apart. */
  bursts: number[];
  burstGapMs: number;
  /** Every duration of the rule is multiplied by this (the cluster's 15 s poll becomes 15 × timeScale s). */
  timeScale: number;
  /** The machine's limit on workers, when below the rule's maxReplicaCount (reported). */
  maxReplicas?: number;
  steps: number;
  /** Give up (and fail) after this long. */
  timeoutMs: number;
}

export const FLEET_PROFILES: Record<'ci' | 'full', FleetProfile> = {
  ci: {
    name: 'ci',
    bursts: [24, 12],
    burstGapMs: 8_000,
    timeScale: 0.1,
    maxReplicas: 3,
    steps: 1,
    timeoutMs: 8 * 60_000,
  },
  full: {
    name: 'full',
    bursts: [150, 100, 50],
    burstGapMs: 20_000,
    timeScale: 0.1,
    maxReplicas: 4,
    steps: 1,
    timeoutMs: 40 * 60_000,
  },
};

const TENANT = { id: 'fleet', key: 'sk_fleet_0123456789abcdef' };
const INTERNAL_TOKEN = `fleet-internal-${randomUUID()}`;

interface PoolMember {
  id: number;
  process: ServiceProcess;
  startedAt: number;
  readyAt: number | null;
  state: 'starting' | 'ready' | 'terminating' | 'exited';
  termination?: { signal: 'SIGTERM' | 'SIGKILL'; at: number; reason: 'scale-in' | 'chaos'; exitedAt?: number };
}

export interface FleetReport {
  profile: FleetProfile;
  rule: ScalingRule;
  accepted: number;
  terminal: Record<string, number>;
  lost: number;
  outputsWrittenTwice: number;
  /** Each output written more than once, with its write times (s from the start) and the SIGKILL time. */
  duplicateWrites: Array<{ key: string; atS: number[] }>;
  sigkillAtS: number | null;
  outputWrites: number;
  burstToFirstScaleUpS: number | null;
  backlogDrainedS: number;
  editsPerSecondByWorkers: Record<string, number>;
  peakWorkers: number;
  sigkills: number;
  scaleInSigterms: number;
  /** SIGTERMs whose worker took over 500 ms to exit after the signal: it was draining a running edit. */
  scaleInSigtermsMidEdit: number;
  workerStarts: number;
  /** Spawn to "taking jobs" (process start, models loaded and warmed) per worker, seconds. */
  coldStartS: { median: number; max: number };
  timeline: Array<{ t: number; backlog: number; desired: number; ready: number }>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class WorkerPool {
  readonly members: PoolMember[] = [];
  private nextId = 1;
  desired = 0;

  constructor(private readonly env: Record<string, string>) {}

  /** Pods that count as replicas: not terminating and not gone. */
  live(): PoolMember[] {
    return this.members.filter((m) => m.state === 'starting' || m.state === 'ready');
  }

  ready(): number {
    return this.members.filter((m) => m.state === 'ready').length;
  }

  /** What a ReplicaSet does: start pods up to `desired`, delete the newest (not-ready first) above it. */
  reconcile(): void {
    const live = this.live();
    for (let n = live.length; n < this.desired; n++) this.start();
    if (live.length > this.desired) {
      const victims = [...live]
        .sort((a, b) => Number(a.state === 'ready') - Number(b.state === 'ready') || b.startedAt - a.startedAt)
        .slice(0, live.length - this.desired);
      for (const victim of victims) this.terminate(victim, 'SIGTERM', 'scale-in');
    }
  }

  terminate(member: PoolMember, signal: 'SIGTERM' | 'SIGKILL', reason: 'scale-in' | 'chaos'): void {
    member.state = 'terminating';
    member.termination = { signal, at: Date.now(), reason };
    member.process.kill(signal);
  }

  private start(): void {
    // The production entry point, as the worker image runs it.
    const process = spawnService({ ...this.env, ROLE: 'worker' }, [WORKER_MAIN]);
    const member: PoolMember = { id: this.nextId++, process, startedAt: Date.now(), readyAt: null, state: 'starting' };
    this.members.push(member);
    process.waitForOutput(/taking jobs/, 10 * 60_000).then(
      () => {
        member.readyAt = Date.now();
        if (member.state === 'starting') member.state = 'ready';
      },
      () => undefined,
    );
    void process.exited.then(() => {
      if (member.termination) member.termination.exitedAt = Date.now();
      member.state = 'exited';
    });
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.members.map((m) => m.process.process.stop(20_000)));
  }
}

async function fetchJson<T>(url: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as T };
}

export async function runFleet(profile: FleetProfile, log: (line: string) => void = () => {}): Promise<FleetReport> {
  const clusterRule = loadScalingRule();
  const rule = scaleRuleTime(
    { ...clusterRule, maxReplicas: Math.min(clusterRule.maxReplicas, profile.maxReplicas ?? Infinity) },
    profile.timeScale,
  );
  const modelsDir = await tinyModelsDir();
  let redis: RedisServerHandle | null = null;
  let s3: S3rverHandle | null = null;
  let proxy: CountingS3Proxy | null = null;
  const apis: ServiceProcess[] = [];
  let pool: WorkerPool | null = null;
  try {
    redis = await startRedisServer();
    s3 = await startS3rver();
    proxy = await startCountingS3Proxy(s3.endpoint, s3.bucket);
    const env: Record<string, string> = {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: 'fleet',
      S3_ENDPOINT: proxy.endpoint,
      S3_BUCKET: s3.bucket,
      S3_REGION: s3.region,
      S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
      API_KEYS: `${TENANT.id}:${TENANT.key}`,
      INTERNAL_API_TOKEN: INTERNAL_TOKEN,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      MODELS_DIR: modelsDir,
      ORT_INTRA_OP_THREADS: '1',
      QUEUE_MAX_DEPTH: '100000',
      SHUTDOWN_GRACE_MS: '60000',
      ...FAST_TIMINGS,
      // The lock must outlast the longest event-loop stall of a busy worker, or a live worker's edit is taken for
      // stalled and run twice (seen here with 3 s locks on an overloaded 2-core machine: 6 of 36 outputs written
      // twice). 15 s keeps that away and still re-runs a SIGKILLed worker's edit within the test.
      BULLMQ_LOCK_DURATION_MS: '15000',
      BULLMQ_STALLED_INTERVAL_MS: '2000',
      // The tiny models have random weights: outside local mode a worker serves them only when told to.
      ALLOW_RANDOM_WEIGHTS: 'true',
      // A SIGKILLed worker's edit must be re-run, not failed: allow as many stalls as the test can cause.
      BULLMQ_MAX_STALLED_COUNT: '5',
      EDIT_MAX_ATTEMPTS: '5',
    };
    for (let i = 0; i < 2; i++) apis.push(spawnService({ ...env, ROLE: 'api', LOG_LEVEL: 'warn' }, [API_MAIN]));
    const apiUrls = await Promise.all(
      apis.map(async (api) => (await api.waitForOutput(/API listening on (http:\/\/\S+)/))[1]),
    );
    log(`APIs at ${apiUrls.join(', ')}; models ${modelsDir}`);

    pool = new WorkerPool(env);
    const controller = new ScalingController(rule);
    pool.desired = Math.max(rule.minReplicas, 1);
    pool.reconcile();
    const t0 = Date.now();
    const seconds = (at: number) => Math.round((at - t0) / 100) / 10;
    const timeline: FleetReport['timeline'] = [];
    let polls = 0;
    let scaleUpAt: number | null = null;
    let burstAt: number | null = null;
    let stopLoop = false;
    const startingReplicas = pool.desired;

    // The autoscaler: KEDA polls the API Service (either replica answers), the HPA sets the Deployment's replicas.
    const loop = (async () => {
      while (!stopLoop) {
        const url = `${apiUrls[polls++ % apiUrls.length]}/internal/scaling`;
        try {
          const { status, body } = await fetchJson<Record<string, unknown>>(url, {
            headers: { authorization: `Bearer ${INTERNAL_TOKEN}` },
          });
          if (status === 200) {
            const metric = Number(body[rule.valueLocation]);
            const now = (Date.now() - t0) / 1000;
            const decision = controller.decide(now, metric, pool!.desired);
            if (decision.replicas > pool!.desired && burstAt !== null && scaleUpAt === null) scaleUpAt = Date.now();
            if (decision.replicas !== pool!.desired) {
              log(`t=${seconds(Date.now())}s backlog ${metric}: ${pool!.desired} -> ${decision.replicas} workers`);
            }
            pool!.desired = decision.replicas;
            timeline.push({ t: seconds(Date.now()), backlog: metric, desired: pool!.desired, ready: pool!.ready() });
          }
        } catch (error) {
          log(`scaling poll failed: ${String(error)}`);
        }
        pool!.reconcile();
        await sleep(rule.pollingIntervalS * 1000);
      }
    })();

    // Wait for the first worker, then the bursts, alternating between the two APIs.
    while (pool.ready() < startingReplicas) await sleep(200);
    const png = await pngOf(64, 48);
    const accepted: string[] = [];
    let submitted = 0;
    const submitOne = async (n: number) => {
      for (let attempt = 0; ; attempt++) {
        const api = apiUrls[n % apiUrls.length];
        const body = multipartOf(
          { instruction: `make it blue ${n}`, steps: String(profile.steps), seed: String(n) },
          { bytes: png, type: 'image/png' },
        );
        try {
          const response = await fetch(`${api}/v1/edits`, {
            method: 'POST',
            body,
            headers: { authorization: `Bearer ${TENANT.key}`, 'idempotency-key': `fleet-${n}` },
          });
          if (response.status === 202 || response.status === 200) {
            accepted.push(((await response.json()) as EditObject).id);
            return;
          }
          log(`submit ${n}: ${response.status} ${await response.text()}`);
        } catch (error) {
          log(`submit ${n}: ${String(error)}`);
        }
        if (attempt >= 5) throw new Error(`edit ${n} was never accepted`);
        await sleep(500);
      }
    };
    const chaos = { sigkillDone: false };
    for (const [index, size] of profile.bursts.entries()) {
      if (index > 0) await sleep(profile.burstGapMs);
      burstAt ??= Date.now();
      log(`t=${seconds(Date.now())}s burst ${index + 1}: ${size} edits`);
      const numbers = Array.from({ length: size }, () => submitted++);
      const queue = [...numbers];
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let n = queue.shift(); n !== undefined; n = queue.shift()) await submitOne(n);
        }),
      );
      log(`t=${seconds(Date.now())}s burst ${index + 1} accepted`);
    }

    // SIGKILL one busy worker once the pool has grown (the cluster equivalent: a node dies under a running edit).
    const deadline = Date.now() + profile.timeoutMs;
    const terminal = new Map<string, string>();
    let drainedAt: number | null = null;
    while (Date.now() < deadline) {
      if (!chaos.sigkillDone && pool.ready() >= 2) {
        const victim = pool.members.find((m) => m.state === 'ready');
        if (victim) {
          log(`t=${seconds(Date.now())}s SIGKILL worker ${victim.id}`);
          pool.terminate(victim, 'SIGKILL', 'chaos');
          chaos.sigkillDone = true;
        }
      }
      const pending = accepted.filter((id) => !terminal.has(id));
      for (const [i, id] of pending.slice(0, 50).entries()) {
        const { status, body } = await fetchJson<EditObject>(`${apiUrls[i % 2]}/v1/edits/${id}`, {
          headers: { authorization: `Bearer ${TENANT.key}` },
        });
        if (status === 200 && ['succeeded', 'failed', 'canceled'].includes(body.status)) terminal.set(id, body.status);
      }
      if (terminal.size === accepted.length) {
        drainedAt = Date.now();
        break;
      }
      await sleep(500);
    }
    log(`t=${seconds(Date.now())}s ${terminal.size}/${accepted.length} terminal`);
    // Let the autoscaler scale in (SIGTERMs to idle or finishing workers) before stopping everything.
    const settleUntil = Date.now() + Math.max(5_000, rule.scaleDown.stabilizationWindowS * 1000 * 1.5);
    while (Date.now() < settleUntil && pool.live().length > Math.max(rule.minReplicas, 1)) await sleep(500);
    stopLoop = true;
    await loop;
    await sleep(1000);

    const outputs = proxy.writes.filter((w) => w.key.startsWith('outputs/'));
    const perKey = new Map<string, number>();
    for (const write of outputs) perKey.set(write.key, (perKey.get(write.key) ?? 0) + 1);
    const statusCounts: Record<string, number> = {};
    for (const status of terminal.values()) statusCounts[status] = (statusCounts[status] ?? 0) + 1;

    // Edits per second by the number of ready workers: output writes between timeline samples while busy.
    const perWorkers = new Map<number, { edits: number; seconds: number }>();
    for (let i = 1; i < timeline.length; i++) {
      const from = t0 + timeline[i - 1].t * 1000;
      const to = t0 + timeline[i].t * 1000;
      if (drainedAt !== null && from >= drainedAt) break;
      // Only time with work waiting measures throughput (idle workers before the burst would dilute it).
      if (timeline[i - 1].backlog === 0) continue;
      const edits = outputs.filter((w) => w.at > from && w.at <= to).length;
      const entry = perWorkers.get(timeline[i - 1].ready) ?? { edits: 0, seconds: 0 };
      entry.edits += edits;
      entry.seconds += (to - from) / 1000;
      perWorkers.set(timeline[i - 1].ready, entry);
    }
    const editsPerSecondByWorkers: Record<string, number> = {};
    for (const [workers, { edits, seconds: s }] of [...perWorkers].sort((a, b) => a[0] - b[0])) {
      if (s > 0 && workers > 0) editsPerSecondByWorkers[String(workers)] = Math.round((edits / s) * 100) / 100;
    }
    const scaleIns = pool.members.filter((m) => m.termination?.reason === 'scale-in');
    const coldStarts = pool.members
      .filter((m) => m.readyAt !== null)
      .map((m) => (m.readyAt! - m.startedAt) / 1000)
      .sort((a, b) => a - b);
    return {
      profile,
      rule,
      accepted: accepted.length,
      terminal: statusCounts,
      lost: accepted.length - terminal.size,
      outputsWrittenTwice: [...perKey.values()].filter((n) => n > 1).length,
      duplicateWrites: [...perKey]
        .filter(([, n]) => n > 1)
        .map(([key]) => ({ key, atS: outputs.filter((w) => w.key === key).map((w) => seconds(w.at)) })),
      sigkillAtS: (() => {
        const killed = pool.members.find((m) => m.termination?.signal === 'SIGKILL');
        return killed?.termination ? seconds(killed.termination.at) : null;
      })(),
      outputWrites: outputs.length,
      burstToFirstScaleUpS: scaleUpAt !== null && burstAt !== null ? (scaleUpAt - burstAt) / 1000 : null,
      backlogDrainedS: drainedAt !== null && burstAt !== null ? (drainedAt - burstAt) / 1000 : Number.NaN,
      editsPerSecondByWorkers,
      peakWorkers: Math.max(...timeline.map((s) => s.ready), 0),
      sigkills: pool.members.filter((m) => m.termination?.signal === 'SIGKILL').length,
      scaleInSigterms: scaleIns.length,
      scaleInSigtermsMidEdit: scaleIns.filter(
        (m) => m.termination?.exitedAt !== undefined && m.termination.exitedAt - m.termination.at > 500,
      ).length,
      workerStarts: pool.members.length,
      coldStartS: {
        median: coldStarts[Math.floor(coldStarts.length / 2)] ?? Number.NaN,
        max: coldStarts.at(-1) ?? Number.NaN,
      },
      timeline,
    };
  } finally {
    await pool?.stopAll();
    await Promise.all(apis.map((api) => api.process.stop(10_000)));
    await proxy?.stop();
    await s3?.stop();
    await redis?.stop();
  }
}

/** The report as the lines `npm run fleet` prints. */
export function formatFleetReport(report: FleetReport): string {
  const r = report;
  return [
    `fleet profile "${r.profile.name}": bursts ${r.profile.bursts.join('+')} edits, ${r.profile.steps} step(s), tiny models`,
    `rule (k8s/base/worker-scaledobject.yaml, durations x${r.profile.timeScale}): min ${r.rule.minReplicas}, max ` +
      `${r.rule.maxReplicas}, target backlog ${r.rule.targetBacklogPerWorker}/worker, poll ${r.rule.pollingIntervalS} s, ` +
      `scale-down window ${r.rule.scaleDown.stabilizationWindowS} s`,
    `accepted ${r.accepted}; terminal ${JSON.stringify(r.terminal)}; lost ${r.lost}`,
    `outputs written ${r.outputWrites}, written twice ${r.outputsWrittenTwice}` +
      (r.duplicateWrites.length > 0 ? ` ${JSON.stringify(r.duplicateWrites)} (SIGKILL at ${r.sigkillAtS} s)` : ''),
    `burst -> first scale-up ${r.burstToFirstScaleUpS ?? 'never'} s; backlog drained ${r.backlogDrainedS} s after the first burst`,
    `workers: peak ${r.peakWorkers}, started ${r.workerStarts}; SIGKILL ${r.sigkills}; scale-in SIGTERM ${r.scaleInSigterms} ` +
      `(${r.scaleInSigtermsMidEdit} while draining an edit)`,
    `worker cold start (spawn to taking jobs): median ${r.coldStartS.median} s, max ${r.coldStartS.max} s`,
    `edits/s by ready workers: ${Object.entries(r.editsPerSecondByWorkers)
      .map(([w, v]) => `${w}: ${v}`)
      .join(', ')}`,
  ].join('\n');
}
