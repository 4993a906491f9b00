/** Documented payload size limits (bytes), all configurable; 0 disables one. */
export interface PayloadLimits {
  input: number;
  output: number;
  event: number;
  streamChunk: number;
}

export const DEFAULT_LIMITS: PayloadLimits = {
  input: 4 * 1024 * 1024,
  output: 4 * 1024 * 1024,
  event: 1024 * 1024,
  streamChunk: 256 * 1024,
};
