/**
 * Time allowed on top of SHUTDOWN_GRACE_MS for closing clients after the running edit was finished or handed back.
 * Past it the process gives up waiting: a dependency that is gone (Redis down) must not turn SIGTERM into a hang.
 */
export const SHUTDOWN_MARGIN_MS = 10_000;

/** Runs `stop`, but waits at most `ms` for it. */
export async function stopWithin(stop: () => Promise<void>, ms: number): Promise<'stopped' | 'timed_out'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timed_out'>((resolve) => {
    timer = setTimeout(() => resolve('timed_out'), ms);
  });
  try {
    return await Promise.race([stop().then(() => 'stopped' as const), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
