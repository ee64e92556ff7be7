// Imported first by bench/run.ts: the pipeline logs every applied intent at info level; benchmarks print numbers.
process.env.LOG_LEVEL ??= 'warn';
export {};
