/** Renders bench/results.json as BENCHMARKS.md. */
export interface RunRecord {
  date: string;
  quick: boolean;
  params: Record<string, number>;
  wallSeconds: number;
  result: unknown;
  jvms: Record<string, { pid: number; hwmMiB: number; rssMiB: number } | null>;
}

export interface Results {
  machine?: { cores: number; cpuModel: string; totalMemGiB: number; node: string; platform: string };
  versions?: Record<string, string>;
  stack?: Record<string, string>;
  runs: Record<string, RunRecord>;
}

export function renderMarkdown(r: Results): string {
  return `# Benchmarks\n\n(pending)\n\n\`\`\`json\n${JSON.stringify(r, null, 2)}\n\`\`\`\n`;
}
