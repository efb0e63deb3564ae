/** Where a command writes: injected so tests capture output without a terminal. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** True when stderr is a terminal (progress bars are drawn only then). */
  readonly isTTY: boolean;
  /** Asks for a secret on the terminal without echo; null when there is no terminal. */
  readonly readSecret?: (prompt: string) => string | null;
}
