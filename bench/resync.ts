export async function runResyncBench(_o: unknown): Promise<unknown> {
  return { pending: true };
}
