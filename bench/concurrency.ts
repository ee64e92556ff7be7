export async function runConcurrencyBench(_o: unknown): Promise<unknown> {
  return { pending: true };
}
