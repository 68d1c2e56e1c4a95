/** Rounds a benchmark figure for its JSON output: 4 decimals unless told otherwise. */
export function round(x: number, decimals = 4): number {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
}
