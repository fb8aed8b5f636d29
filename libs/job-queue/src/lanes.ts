import type { Lane } from './job-queue.port';

/**
 * Lanes are BullMQ priorities on the one `edit` queue rather than two queues: a worker consumes a single queue at
 * its GPU concurrency and BullMQ already takes the lowest priority number first (FIFO within a priority). Two
 * queues would need two Worker instances per process, which could run two edits at once on one GPU. Every edit
 * job carries a priority, because BullMQ runs jobs *without* one before all prioritized jobs.
 */
export const LANE_PRIORITY: Readonly<Record<Lane, number>> = {
  interactive: 1,
  batch: 2,
};

/** BullMQ orders prioritized jobs by `priority × 2^32 + insertion counter` (getPriorityScore.lua). */
export const PRIORITY_SCORE_STRIDE = 0x1_0000_0000;

/** The lanes in the order workers take them. */
export const LANES: readonly Lane[] = ['interactive', 'batch'];

/** A lane's range of scores in BullMQ's prioritized zset: [low, high). */
export function laneScoreRange(lane: Lane): [number, number] {
  const low = LANE_PRIORITY[lane] * PRIORITY_SCORE_STRIDE;
  return [low, low + PRIORITY_SCORE_STRIDE];
}
