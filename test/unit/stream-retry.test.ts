import { expect } from 'chai';
import {
  isRetriable,
  OpenCellBusinessError,
  OpenCellUnavailableError,
  SyncError,
} from '../../src/domain/errors';
import { decideRetry, RetryPolicy } from '../../src/adapters/kafka/retry';
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
    expect(jittered).to.deep.equal({ retry: true, delayMs: 100 });
    const capped = decideRetry(unavailable(), 4, { ...policy, maxMs: 300, maxAttempts: 10 }, () => 0);
    expect(capped).to.deep.equal({ retry: true, delayMs: 300 });
  });

  it('gives up after maxAttempts', () => {
    expect(decideRetry(unavailable(), 5, policy)).to.deep.equal({ retry: false, reason: 'exhausted' });
  });

  it("honours a 429's Retry-After as a floor, even above the cap", () => {
    const err = new OpenCellUnavailableError('OPENCELL_RATE_LIMITED', '429', '/x', 429, 5000);
    expect(decideRetry(err, 1, policy, () => 0)).to.deep.equal({ retry: true, delayMs: 5000 });
  });

  it('retries driver errors that say they are retriable', () => {
    const err = Object.assign(new Error('connection reset'), { retriable: true });
    expect(decideRetry(err, 1, policy, () => 0).retry).to.equal(true);
    expect(
      decideRetry(new SyncError('DATABASE', 'x', { retriable: true }), 1, policy, () => 0).retry,
    ).to.equal(true);
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
    expect(decideRetry(err, 1, policy, () => 0)).to.deep.equal({ retry: true, delayMs: 100 });
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
