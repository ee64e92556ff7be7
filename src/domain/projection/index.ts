/** The pure projection core (no I/O): filter, triggers, strategies and payloads (request-body builders). */
export * from './views';
export * from './filter';
export * from './products';
export * from './triggers';
export * from './payloads';
export * from './plan';
export * from './strategies';
