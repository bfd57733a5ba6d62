// Seeded pseudo-random numbers (mulberry32): the same seed gives the same sequence on every
// machine, so a scenario and its randomSeed always produce byte-identical results.

export class Rng {
  private state: number;

  constructor(seed: number) {
    // Fold any number (negative, fractional, large) into 32 bits so every seed is usable.
    this.state = Math.trunc(seed) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : Math.floor(this.next() * n);
  }
}
