/** A uniform random source in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a tiny, fast, seeded PRNG (uniform in [0, 1)); the same seed gives the same sequence. Used for
 * reproducible demo data and for the sandboxes' fault injection and synthetic billing.
 */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
