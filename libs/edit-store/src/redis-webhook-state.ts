import type { RedisClient } from './redis-connection';
import type { CompletedWebhookMessage } from '@step1x/contracts';
import { RedisKeys } from './redis-keys';
import type { WebhookDeliveryStatus, WebhookStateStore } from './store.ports';

/**
 * Fields of the edit hash (`RedisKeys.edit`) that the delivery worker owns. Every script writes only while the hash
 * exists, so an expired edit is never brought back as a hash without a TTL.
 */
const STATUS = 'webhook_status';
const ATTEMPTS = 'webhook_attempts';
const COMPLETED = 'webhook_completed';

/**
 * KEYS[1] edit hash; ARGV[1] status. `pending` (an earlier event's attempt, arriving late) never overwrites
 * `delivered`: only a replay (BEGIN_REPLAY_SCRIPT) sets a delivered edit pending again.
 */
const RECORD_ATTEMPT_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], '${ATTEMPTS}', 1)
if ARGV[1] == 'pending' and redis.call('HGET', KEYS[1], '${STATUS}') == 'delivered' then return 1 end
redis.call('HSET', KEYS[1], '${STATUS}', ARGV[1])
return 1
`;

/** KEYS[1] edit hash; ARGV[1] message JSON. A later attempt number of the same message only raises lastAttempt. */
const REMEMBER_COMPLETED_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local next = cjson.decode(ARGV[1])
local current = redis.call('HGET', KEYS[1], '${COMPLETED}')
if current then
  local known = cjson.decode(current)
  if known.messageId == next.messageId and tonumber(known.lastAttempt) > tonumber(next.lastAttempt) then return 1 end
end
redis.call('HSET', KEYS[1], '${COMPLETED}', ARGV[1])
return 1
`;

/**
 * KEYS[1] edit hash. Reserves the next attempt number of the last `edit.completed` (so two replays at once get two
 * numbers) and sets the status back to pending. Returns the message JSON (with the reserved number), or false.
 */
const BEGIN_REPLAY_SCRIPT = `
local current = redis.call('HGET', KEYS[1], '${COMPLETED}')
if not current then return false end
local message = cjson.decode(current)
message.lastAttempt = tonumber(message.lastAttempt) + 1
local encoded = cjson.encode(message)
redis.call('HSET', KEYS[1], '${COMPLETED}', encoded, '${STATUS}', 'pending')
return encoded
`;

export class RedisWebhookStateStore implements WebhookStateStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async recordAttempt(editId: string, status: Exclude<WebhookDeliveryStatus, 'none'>): Promise<void> {
    await this.redis.eval(RECORD_ATTEMPT_SCRIPT, 1, this.keys.edit(editId), status);
  }

  async rememberCompleted(editId: string, message: CompletedWebhookMessage): Promise<void> {
    await this.redis.eval(REMEMBER_COMPLETED_SCRIPT, 1, this.keys.edit(editId), JSON.stringify(message));
  }

  async beginReplay(editId: string): Promise<CompletedWebhookMessage | null> {
    const encoded = (await this.redis.eval(BEGIN_REPLAY_SCRIPT, 1, this.keys.edit(editId))) as string | null;
    return encoded ? (JSON.parse(encoded) as CompletedWebhookMessage) : null;
  }
}
