import { QwenInputError } from './mllm.errors';

/** `image_grid_thw` of one image: temporal, height and width in 14-px patches. */
export interface GridThw {
  readonly t: number;
  readonly h: number;
  readonly w: number;
}

export interface VisionWindowConfig {
  /** Window side in pixels (112 for Qwen2.5-VL). */
  readonly windowSize: number;
  readonly patchSize: number;
  readonly spatialMergeSize: number;
}

export const QWEN25VL_VISION_WINDOW: VisionWindowConfig = { windowSize: 112, patchSize: 14, spatialMergeSize: 2 };

/**
 * What the vision tower needs besides pixels (transformers `get_window_index`, read not copied): the permutation
 * of merged tokens into windows, the window boundaries for the windowed blocks and the image boundaries for the
 * full-attention blocks. Full-attention blocks see the same (window-ordered) rows; only the mask differs.
 */
export interface VisionWindowLayout {
  /**
   * Merged-token permutation: row k of the window-ordered sequence is merged token `windowIndex[k]` (row-major over
   * each image's `(h/2)×(w/2)` grid, offset by the tokens of earlier images). The tower gathers the patch rows in
   * groups of `spatialMergeSize²` by it and undoes it after the merger with its inverse.
   */
  readonly windowIndex: Int32Array;
  /** Window boundaries in patch rows, starting at 0, with empty windows collapsed (`unique_consecutive`). */
  readonly cuWindowSeqlens: Int32Array;
  /** Frame boundaries in patch rows (`[0, h·w, 2·h·w, …]`), for the full-attention blocks. */
  readonly cuSeqlens: Int32Array;
}

function mergedGrid(grid: GridThw, config: VisionWindowConfig): { gh: number; gw: number } {
  const m = config.spatialMergeSize;
  if (grid.h % m !== 0 || grid.w % m !== 0 || grid.t < 1) {
    throw new QwenInputError(
      'invalid_image',
      `grid ${grid.t}×${grid.h}×${grid.w} is not divisible by the merge size ${m}`,
    );
  }
  return { gh: grid.h / m, gw: grid.w / m };
}

export function visionWindowLayout(grids: readonly GridThw[], config = QWEN25VL_VISION_WINDOW): VisionWindowLayout {
  const windowTokens = config.windowSize / config.spatialMergeSize / config.patchSize; // merged tokens per window side
  const mergeUnit = config.spatialMergeSize * config.spatialMergeSize;
  const windowIndex: number[] = [];
  const cuWindow: number[] = [0];
  const cuFrames: number[] = [0];
  let tokenOffset = 0;
  for (const grid of grids) {
    const { gh, gw } = mergedGrid(grid, config);
    // The reference always pads up to the next window multiple, adding a whole empty window row/column when the
    // grid already divides evenly; those empty windows repeat a boundary, which the collapse below removes.
    const windowsH = Math.floor((gh + windowTokens - (gh % windowTokens)) / windowTokens);
    const windowsW = Math.floor((gw + windowTokens - (gw % windowTokens)) / windowTokens);
    for (let frame = 0; frame < grid.t; frame++) {
      for (let wy = 0; wy < windowsH; wy++) {
        for (let wx = 0; wx < windowsW; wx++) {
          let count = 0;
          for (let y = wy * windowTokens; y < Math.min(gh, (wy + 1) * windowTokens); y++) {
            for (let x = wx * windowTokens; x < Math.min(gw, (wx + 1) * windowTokens); x++) {
              windowIndex.push(tokenOffset + (frame * gh + y) * gw + x);
              count++;
            }
          }
          const boundary = cuWindow[cuWindow.length - 1] + count * mergeUnit;
          if (boundary !== cuWindow[cuWindow.length - 1]) cuWindow.push(boundary);
        }
      }
      cuFrames.push(cuFrames[cuFrames.length - 1] + grid.h * grid.w);
    }
    tokenOffset += grid.t * gh * gw;
  }
  return {
    windowIndex: Int32Array.from(windowIndex),
    cuWindowSeqlens: Int32Array.from(cuWindow),
    cuSeqlens: Int32Array.from(cuFrames),
  };
}

/**
 * The (h, w) patch coordinates of every `pixel_values` row, in that tensor's merge-block-major row order: the input
 * of the vision tower's 2-D RoPE. Returned as `[rows, 2]` row-major.
 */
export function visionPatchPositionIds(grids: readonly GridThw[], config = QWEN25VL_VISION_WINDOW): Int32Array {
  const m = config.spatialMergeSize;
  const rows = grids.reduce((n, g) => n + g.t * g.h * g.w, 0);
  const out = new Int32Array(rows * 2);
  let r = 0;
  for (const grid of grids) {
    const { gh, gw } = mergedGrid(grid, config);
    for (let frame = 0; frame < grid.t; frame++) {
      for (let by = 0; by < gh; by++) {
        for (let bx = 0; bx < gw; bx++) {
          for (let my = 0; my < m; my++) {
            for (let mx = 0; mx < m; mx++) {
              out[r * 2] = by * m + my;
              out[r * 2 + 1] = bx * m + mx;
              r++;
            }
          }
        }
      }
    }
  }
  return out;
}
