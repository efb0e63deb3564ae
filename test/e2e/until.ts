/** Resolves with the first non-null value `probe` gives, polling every 20 ms; rejects naming `what` after `limitMs`. */
export async function until<T>(what: string, probe: () => Promise<T | null>, limitMs = 20_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
