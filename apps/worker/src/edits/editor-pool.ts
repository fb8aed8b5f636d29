import type { ImageEditor } from './image-editor.port';

/**
 * Hands each running job its own editor: one per GPU slot (WORKER_CONCURRENCY), because a pipeline runs one edit
 * at a time. Jobs beyond the pool size wait; BullMQ's concurrency equals the pool size, so they never do.
 */
export class EditorPool {
  private readonly free: ImageEditor[];
  private readonly waiting: Array<(editor: ImageEditor) => void> = [];

  constructor(private readonly editors: readonly ImageEditor[]) {
    if (editors.length === 0) throw new RangeError('an editor pool needs at least one editor');
    this.free = [...editors];
  }

  get size(): number {
    return this.editors.length;
  }

  async use<T>(work: (editor: ImageEditor) => Promise<T>): Promise<T> {
    const editor = this.free.pop() ?? (await new Promise<ImageEditor>((resolve) => this.waiting.push(resolve)));
    try {
      return await work(editor);
    } finally {
      const next = this.waiting.shift();
      if (next) next(editor);
      else this.free.push(editor);
    }
  }

  async release(): Promise<void> {
    await Promise.all(this.editors.map((editor) => editor.release()));
  }
}
