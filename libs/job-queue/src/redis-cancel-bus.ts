import type { CancelEditMessage } from '@step1x/contracts';
import { closeRedisClient, duplicateRedisClient, type RedisClient, type RedisKeys } from '@step1x/edit-store';
import type { CancelBus } from './job-queue.port';

/**
 * `CancelBus` on Redis pub/sub (`{prefix}:edit:cancel`). Subscribing opens a dedicated connection. On a cluster a
 * PUBLISH reaches the subscribers of every node (classic pub/sub is broadcast across the cluster bus).
 */
export class RedisCancelBus implements CancelBus {
  private readonly subscribers = new Set<RedisClient>();

  constructor(
    private readonly publisher: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async publish(message: CancelEditMessage): Promise<void> {
    await this.publisher.publish(this.keys.cancelChannel(), JSON.stringify(message));
  }

  async subscribe(listener: (message: CancelEditMessage) => void): Promise<() => Promise<void>> {
    const subscriber = duplicateRedisClient(this.publisher, 'blocking');
    this.subscribers.add(subscriber);
    const channel = this.keys.cancelChannel();
    subscriber.on('message', (from: string, text: string) => {
      if (from !== channel) return;
      let message: CancelEditMessage;
      try {
        message = JSON.parse(text) as CancelEditMessage;
      } catch {
        return; // not ours to crash on: a foreign publisher on our channel
      }
      if (typeof message?.editId === 'string') listener(message);
    });
    await subscriber.subscribe(channel);
    return async () => {
      this.subscribers.delete(subscriber);
      await closeRedisClient(subscriber);
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscribers].map((s) => closeRedisClient(s)));
    this.subscribers.clear();
  }
}
