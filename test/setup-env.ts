// Test runs log only errors unless LOG_LEVEL says otherwise (set before the logger is created).
process.env.LOG_LEVEL ??= 'error';
process.env.NODE_ENV ??= 'test';
