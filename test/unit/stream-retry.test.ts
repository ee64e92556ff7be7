import { expect } from 'chai';
import {
  isOutage,
  isRetriable,
  OpenCellBusinessError,
  OpenCellUnavailableError,
  PreconditionPendingError,
  SyncError,
} from '../../src/domain/errors';
import { OdooUnavailableError } from '../../src/domain/odoo/errors';
import { backoffMs, decideRetry, RetryPolicy } from '../../src/adapters/kafka/retry';
import {
  KafkaJSAggregateError,
  KafkaJSConnectionError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError,
  KafkaJSTimeout,
} from 'kafkajs';

const policy: RetryPolicy = { initialMs: 100, maxMs: 2000, multiplier: 2, maxAttempts: 5, jitter: 0.5 };
const unavailable = () =>
  new OpenCellUnavailableError('OPENCELL_UNAVAILABLE', '503', '/billing/subscription', 503);

describe('retry policy', () => {
  it('does not retry business errors (OpenCell 4xx, FAIL)', () => {
    const err = new OpenCellBusinessError(
      'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
      'no offer',
      404,
      '/billing/subscription',
    );
    expect(decideRetry(err, 1, policy)).to.deep.equal({ retry: false, reason: 'not-retriable' });
  });

  it('does not retry unknown errors (bugs are not retried forever)', () => {
    expect(decideRetry(new TypeError('x'), 1, policy)).to.deep.equal({
      retry: false,
      reason: 'not-retriable',
    });
  });

  it('backs off exponentially, capped, with jitter in [base/2, base]', () => {
    const delays = [1, 2, 3, 4].map((a) => decideRetry(unavailable(), a, policy, () => 0));
    expect(delays.map((d) => (d.retry ? d.delayMs : -1))).to.deep.equal([100, 200, 400, 800]);
    const jittered = decideRetry(unavailable(), 2, policy, () => 1);
    expect(jittered).to.deep.equal({ retry: true, delayMs: 100, outage: true });
    const capped = decideRetry(unavailable(), 4, { ...policy, maxMs: 300, maxAttempts: 10 }, () => 0);
    expect(capped).to.deep.equal({ retry: true, delayMs: 300, outage: true });
  });

  it("honours a 429's Retry-After as a floor, even above the cap", () => {
    const err = new OpenCellUnavailableError('OPENCELL_RATE_LIMITED', '429', '/x', 429, 5000);
    expect(decideRetry(err, 1, policy, () => 0)).to.deep.equal({ retry: true, delayMs: 5000, outage: true });
  });

  it('retries driver errors that say they are retriable', () => {
    const err = Object.assign(new Error('connection reset'), { retriable: true });
    expect(decideRetry(err, 1, policy, () => 0).retry).to.equal(true);
    expect(
      decideRetry(new SyncError('DATABASE', 'x', { retriable: true }), 1, policy, () => 0).retry,
    ).to.equal(true);
  });
});

describe('retry policy: an outage is waited out, not dead-lettered (docs/decisions/0009-outages-block.md)', () => {
  const pending = () => new PreconditionPendingError('subscription SC1 does not exist in OpenCell yet');
  const outages = () => [
    unavailable(),
    new OpenCellUnavailableError('OPENCELL_RATE_LIMITED', '429', '/x', 429, 1000),
    new OpenCellUnavailableError('OPENCELL_TIMEOUT', 'timed out after 10000 ms', '/x'),
    new OpenCellUnavailableError('NETWORK', 'connect ECONNREFUSED 10.0.0.7:8080', '/x'),
    new OdooUnavailableError('ODOO_UNAVAILABLE', 'HTTP 502', '/jsonrpc', 502),
    new SyncError('DATABASE', 'invoice loader: write-ahead: Connection terminated', { retriable: true }),
    Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
  ];

  it('5xx, 429, timeouts, network errors, Odoo, database and Kafka failures are outages; a pending precondition and business errors are not', () => {
    for (const err of outages()) expect(isOutage(err), err.message).to.equal(true);
    expect(isOutage(pending())).to.equal(false);
    expect(isOutage(new OpenCellBusinessError('INVALID_PARAMETER', 'bad', 400, '/x'))).to.equal(false);
    expect(isOutage(new TypeError('x'))).to.equal(false);
  });

  it('an outage is retried at any attempt, far past maxAttempts, with the delay held at the cap', () => {
    for (const err of outages())
      for (const attempt of [policy.maxAttempts, 12, 100, 10_000]) {
        const d = decideRetry(err, { attempt, waits: 0, failingForMs: 86_400_000 }, policy, () => 0);
        expect(d, `${err.message} at attempt ${attempt}`).to.deep.include({ retry: true, outage: true });
        expect((d as { delayMs: number }).delayMs, 'capped, finite').to.be.at.most(2000);
      }
  });

  it('the backoff grows to the cap and keeps its jitter there (blocked partitions do not retry in step)', () => {
    const at = (attempt: number, r: number) => backoffMs(attempt, policy, () => r);
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => at(a, 0))).to.deep.equal([100, 200, 400, 800, 1600, 2000, 2000]);
    expect(at(5000, 1), 'full jitter at the cap').to.equal(1000);
    expect(at(5000, 0.5)).to.equal(1500);
  });

  it('with giveUpAfterMs, an outage failing for that long is given up (dead-lettered); 0 means never', () => {
    const bounded = { ...policy, giveUpAfterMs: 60_000 };
    const h = (failingForMs: number) => ({ attempt: 40, waits: 0, failingForMs });
    expect(decideRetry(unavailable(), h(59_999), bounded, () => 0).retry).to.equal(true);
    expect(decideRetry(unavailable(), h(60_000), bounded, () => 0)).to.deep.equal({
      retry: false,
      reason: 'gave-up',
    });
    expect(decideRetry(unavailable(), h(1e12), { ...policy, giveUpAfterMs: 0 }, () => 0).retry).to.equal(
      true,
    );
  });

  it('a pending precondition is dead-lettered at its maxAttempts-th failure; outage failures of the message do not count', () => {
    expect(decideRetry(pending(), 4, policy, () => 0)).to.deep.include({ retry: true, outage: false });
    expect(decideRetry(pending(), 5, policy, () => 0)).to.deep.equal({ retry: false, reason: 'exhausted' });
    // 30 tries failed during an outage, then 2 waits: not exhausted, and the backoff is the long one
    expect(
      decideRetry(pending(), { attempt: 32, waits: 2, failingForMs: 600_000 }, policy, () => 0),
    ).to.deep.equal({
      retry: true,
      delayMs: 2000,
      outage: false,
    });
    expect(decideRetry(pending(), { attempt: 35, waits: 5, failingForMs: 0 }, policy, () => 0)).to.deep.equal(
      {
        retry: false,
        reason: 'exhausted',
      },
    );
  });
});

describe('transient database errors are retriable', () => {
  const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });
  it('retries too-many-connections, connection failures, serialization failures and deadlocks', () => {
    for (const code of ['53300', '08006', '57P01', '40001', '40P01', 'ECONNREFUSED']) {
      expect(decideRetry(pgError(code), 1, policy, () => 0).retry, code).to.equal(true);
    }
  });
  it('does not retry constraint violations or bad input (they would fail the same way again)', () => {
    for (const code of ['23505', '22P02', '42703']) {
      expect(
        decideRetry(pgError(code), 1, policy, () => 0),
        code,
      ).to.deep.equal({ retry: false, reason: 'not-retriable' });
    }
  });
  it('retries a pool that lost its connection', () => {
    expect(decideRetry(new Error('Connection terminated unexpectedly'), 1, policy, () => 0).retry).to.equal(
      true,
    );
  });
  it('retries every error of a session ended by pg_terminate_backend, a restart or a failover', () => {
    const lost = [
      // the query in flight when the server ends the session (admin_shutdown), and a server still starting
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
      // a write on a primary that a failover demoted
      Object.assign(new Error('cannot execute UPDATE in a read-only transaction'), { code: '25006' }),
      // node-postgres' own errors, without SQLSTATE
      new Error('Client has encountered a connection error and is not queryable'),
      new Error('Connection terminated due to connection timeout'),
      new Error('timeout exceeded when trying to connect'),
      Object.assign(new Error('getaddrinfo EAI_AGAIN db.internal'), { code: 'EAI_AGAIN' }),
    ];
    for (const err of lost) {
      expect(isRetriable(err), err.message).to.equal(true);
      expect(decideRetry(err, 1, policy, () => 0).retry, err.message).to.equal(true);
    }
  });
});

describe('transient kafkajs errors are retriable (issue 15 §7)', () => {
  // kafkajs' typings declare these constructors without arguments; at run time they take the message.
  const make = (C: unknown, ...args: unknown[]) => new (C as new (...a: unknown[]) => Error)(...args);
  it('KafkaJSNumberOfRetriesExceeded is retriable, not dead-lettered (kafkajs marks it non-retriable)', () => {
    const cause = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    const err = new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 5, retryTime: 3000 });
    expect(err.retriable, 'kafkajs itself says non-retriable').to.equal(false);
    expect(decideRetry(err, 1, policy, () => 0)).to.deep.equal({ retry: true, delayMs: 100, outage: true });
  });
  it('timeouts, lost coordinators, connection errors and retriable protocol errors are retried', () => {
    const errors = [
      make(KafkaJSTimeout, 'Timeout'),
      make(KafkaJSGroupCoordinatorNotFound, 'coordinator not found'),
      new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out'),
      new KafkaJSProtocolError(
        Object.assign(new Error('There is no leader for this topic-partition'), {
          type: 'LEADER_NOT_AVAILABLE',
          code: 5,
          retriable: true,
        }),
      ),
      new KafkaJSAggregateError('send failed', [
        new KafkaJSConnectionError('closed'),
        make(KafkaJSTimeout, 't'),
      ]),
    ];
    for (const err of errors) expect(decideRetry(err, 1, policy, () => 0).retry, err.name).to.equal(true);
  });
  it('errors that a retry cannot fix are still not retried (authentication, non-retriable protocol errors)', () => {
    const errors = [
      make(KafkaJSSASLAuthenticationError, 'SASL PLAIN authentication failed'),
      new KafkaJSNonRetriableError('bad request'),
      new KafkaJSProtocolError(
        Object.assign(new Error('Not authorized to access topics'), {
          type: 'TOPIC_AUTHORIZATION_FAILED',
          code: 29,
          retriable: false,
        }),
      ),
      new KafkaJSAggregateError('send failed', [
        new KafkaJSConnectionError('closed'),
        make(KafkaJSSASLAuthenticationError, 'auth'),
      ]),
    ];
    for (const err of errors)
      expect(
        decideRetry(err, 1, policy, () => 0),
        err.name,
      ).to.deep.equal({
        retry: false,
        reason: 'not-retriable',
      });
  });
});
