/**
 * Reproducible randomness for tests: a small PRNG (mulberry32) seeded from MNA_TEST_SEED, else from
 * a fixed default, so a failing run can be repeated (the seed is in every failure message). Work that
 * runs concurrently takes a fork each, so its draws do not depend on how the tasks interleave.
 */
export interface SeededRandom {
  readonly seed: number;
  /** In [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  /** An independent generator for the `index`-th concurrent task, fixed by this seed. */
  fork(index: number): SeededRandom;
}

function generator(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    seed: seed >>> 0,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    fork: (index) => generator(Math.imul(seed ^ 0x9e3779b9, index + 1) ^ (index * 0x85ebca6b)),
  };
}

export function seededRandom(defaultSeed: number, env: NodeJS.ProcessEnv = process.env): SeededRandom {
  const fromEnv = env.MNA_TEST_SEED;
  return generator(fromEnv !== undefined && /^\d+$/.test(fromEnv) ? Number(fromEnv) : defaultSeed);
}
