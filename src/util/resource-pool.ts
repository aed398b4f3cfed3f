/**
 * A fixed set of reusable resources (evaluator slots, staging buffers) handed out one at a time:
 * `take` resolves with a free one (the longest-free first) or waits for `give` to return one.
 */
export interface ResourcePool<T> {
  take(): Promise<T>;
  give(item: T): void;
}

export function resourcePool<T>(items: readonly T[]): ResourcePool<T> {
  const free = items.slice();
  const waiting: ((item: T) => void)[] = [];
  return {
    take: () => (free.length ? Promise.resolve(free.shift()!) : new Promise<T>((r) => waiting.push(r))),
    give(item) {
      const next = waiting.shift();
      if (next) next(item);
      else free.push(item);
    },
  };
}
