import { randomUUID } from 'node:crypto';
import type { DeliverySubject } from '@step1x/contracts';
import type { RedisClient } from './redis-connection';
import { hashApiKey, RedisKeys } from './redis-keys';
import type {
  ApiKeySeed,
  ApiKeyStore,
  DeliveryLog,
  DeliveryLogEntry,
  IdempotencyBegin,
  IdempotencyStore,
  UploadRecord,
  UploadStore,
  WebhookSecretStore,
} from './store.ports';

const DAY_S = 86_400;
const YEAR_S = 365 * DAY_S;

interface IdempotencyValue {
  state: 'in_progress' | 'done';
  token: string;
  /** In progress: until when (Redis time, ms) the owner holds the key. */
  leaseUntil?: number;
  requestHash?: string;
  editId?: string;
  statusCode?: number;
}

/** Only the owner (same token) may overwrite or release a key. KEYS[1] key; ARGV[1] token; ARGV[2] value or ''. */
const OWNED_WRITE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if cjson.decode(current).token ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') end
return 1
`;

/**
 * Takes the key, or takes it over when the owner's lease ran out, in one step. KEYS[1] key; ARGV[1] token;
 * ARGV[2] proposed edit id; ARGV[3] lease ms; ARGV[4] TTL s. Returns {'started', editId, resumed 0|1},
 * {'in_progress', ms left} or {'done', stored value}. Times are Redis's own clock, shared by every API process.
 */
const BEGIN_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local current = redis.call('GET', KEYS[1])
local leaseUntil = now + tonumber(ARGV[3])
if not current then
  local marker = { state = 'in_progress', token = ARGV[1], editId = ARGV[2], leaseUntil = leaseUntil }
  redis.call('SET', KEYS[1], cjson.encode(marker), 'EX', tonumber(ARGV[4]))
  return { 'started', ARGV[2], 0 }
end
local value = cjson.decode(current)
if value.state ~= 'in_progress' then return { 'done', current } end
local held = tonumber(value.leaseUntil) or 0
if held > now then return { 'in_progress', held - now } end
local editId = value.editId or ARGV[2]
local marker = { state = 'in_progress', token = ARGV[1], editId = editId, leaseUntil = leaseUntil }
redis.call('SET', KEYS[1], cjson.encode(marker), 'KEEPTTL')
return { 'started', editId, 1 }
`;

/** How long a request may take to accept an edit before another request with its key may take over. */
export const IDEMPOTENCY_LEASE_MS = 30_000;

export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly ttlS: number,
    private readonly leaseMs = IDEMPOTENCY_LEASE_MS,
  ) {}

  async begin(tenantId: string, idempotencyKey: string, proposedEditId: string): Promise<IdempotencyBegin> {
    const key = this.keys.idempotency(tenantId, idempotencyKey);
    const token = randomUUID();
    const [state, detail, resumed] = (await this.redis.eval(
      BEGIN_SCRIPT,
      1,
      key,
      token,
      proposedEditId,
      this.leaseMs,
      this.ttlS,
    )) as [string, string | number, number | undefined];
    if (state === 'started') return { state, token, editId: String(detail), resumed: resumed === 1 };
    if (state === 'in_progress') return { state, retryAfterMs: Number(detail) };
    const value = JSON.parse(String(detail)) as IdempotencyValue;
    return {
      state: 'done',
      requestHash: value.requestHash ?? '',
      editId: value.editId ?? '',
      statusCode: value.statusCode ?? 202,
    };
  }

  async complete(
    tenantId: string,
    idempotencyKey: string,
    token: string,
    answer: { requestHash: string; editId: string; statusCode: number },
  ): Promise<void> {
    const value: IdempotencyValue = { state: 'done', token, ...answer };
    await this.redis.eval(
      OWNED_WRITE_SCRIPT,
      1,
      this.keys.idempotency(tenantId, idempotencyKey),
      token,
      JSON.stringify(value),
    );
  }

  async abandon(tenantId: string, idempotencyKey: string, token: string): Promise<void> {
    await this.redis.eval(OWNED_WRITE_SCRIPT, 1, this.keys.idempotency(tenantId, idempotencyKey), token, '');
  }
}

export class RedisApiKeyStore implements ApiKeyStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /** Seeded keys live this long; every boot seeds them again. @defaultValue 365 days */
    private readonly ttlS: number = YEAR_S,
  ) {}

  async seed(seeds: readonly ApiKeySeed[]): Promise<void> {
    if (seeds.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const { tenantId, key } of seeds) pipeline.set(this.keys.apiKey(hashApiKey(key)), tenantId, 'EX', this.ttlS);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
  }

  async tenantForKey(apiKey: string): Promise<string | null> {
    return this.redis.get(this.keys.apiKey(hashApiKey(apiKey)));
  }
}

export class RedisWebhookSecretStore implements WebhookSecretStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /** Refreshed on every read, so a secret in use never expires. @defaultValue 365 days */
    private readonly ttlS: number = YEAR_S,
  ) {}

  async getOrCreate(tenantId: string, create: () => string): Promise<string> {
    const key = this.keys.tenantWebhookSecret(tenantId);
    await this.redis.set(key, create(), 'EX', this.ttlS, 'NX');
    const secret = await this.get(tenantId);
    if (secret === null) throw new Error(`webhook secret of tenant ${tenantId} vanished right after creation`);
    return secret;
  }

  async get(tenantId: string): Promise<string | null> {
    return this.redis.getex(this.keys.tenantWebhookSecret(tenantId), 'EX', this.ttlS);
  }

  async rotate(
    tenantId: string,
    next: string,
    overlapS: number,
  ): Promise<{ secret: string; previousExpiresAt: Date | null }> {
    const [kept, expiresAtMs] = (await this.redis.eval(
      ROTATE_SECRET_SCRIPT,
      2,
      this.keys.tenantWebhookSecret(tenantId),
      this.keys.tenantPreviousWebhookSecret(tenantId),
      next,
      this.ttlS,
      overlapS,
    )) as [number, number];
    return { secret: next, previousExpiresAt: kept === 1 ? new Date(Number(expiresAtMs)) : null };
  }

  async signingSecrets(tenantId: string, create: () => string): Promise<string[]> {
    const current = await this.getOrCreate(tenantId, create);
    const previous = await this.redis.get(this.keys.tenantPreviousWebhookSecret(tenantId));
    return previous && previous !== current ? [current, previous] : [current];
  }
}

/**
 * KEYS[1] current secret, KEYS[2] previous secret (same prefix, so one hash slot); ARGV[1] new secret, ARGV[2] its
 * TTL s, ARGV[3] overlap s. The current secret becomes the previous one for the overlap; the expiry comes from
 * Redis's clock, the one that ends it. Returns {1, expiry ms} or {0, 0} when there was nothing to keep.
 */
const ROTATE_SECRET_SCRIPT = `
local current = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
if (not current) or tonumber(ARGV[3]) <= 0 then
  redis.call('DEL', KEYS[2])
  return { 0, 0 }
end
redis.call('SET', KEYS[2], current, 'EX', tonumber(ARGV[3]))
local time = redis.call('TIME')
return { 1, tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) + tonumber(ARGV[3]) * 1000 }
`;

export class RedisDeliveryLog implements DeliveryLog {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly retentionDays: number,
  ) {}

  async record(subject: DeliverySubject, entry: DeliveryLogEntry): Promise<void> {
    const key = this.keys.deliveries(subject);
    await this.redis
      .multi()
      .rpush(key, JSON.stringify(entry))
      .expire(key, Math.round(this.retentionDays * DAY_S))
      .exec();
  }

  async list(subject: DeliverySubject): Promise<DeliveryLogEntry[]> {
    const items = await this.redis.lrange(this.keys.deliveries(subject), 0, -1);
    return items.map((item) => JSON.parse(item) as DeliveryLogEntry);
  }
}

export class RedisUploadStore implements UploadStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /** How long past its URL's expiry an upload can still be used by an edit. @defaultValue 1 day */
    private readonly graceS: number = DAY_S,
  ) {}

  async remember(imageKey: string, upload: UploadRecord): Promise<void> {
    const ttlS = Math.max(1, Math.ceil((Date.parse(upload.expiresAt) - Date.now()) / 1000)) + this.graceS;
    await this.redis.set(this.keys.upload(imageKey), JSON.stringify(upload), 'EX', ttlS);
  }

  async find(imageKey: string): Promise<UploadRecord | null> {
    const text = await this.redis.get(this.keys.upload(imageKey));
    return text === null ? null : (JSON.parse(text) as UploadRecord);
  }
}
