/**
 * `topicOffsets` (src/adapters/kafka/groups.ts): kafkajs's `admin.fetchTopicOffsets` gives up at once when a
 * partition's leader is not where its metadata says. Regression (the demo on a fresh stack, 3 of 3 runs): the demo
 * asked the end offsets of the router topics seconds after Debezium had created them and failed with "This server is
 * not the leader for that topic-partition".
 */
import { expect } from 'chai';
import type { Admin } from 'kafkajs';
import { KafkaJSProtocolError } from 'kafkajs';
import { topicOffsets } from '../../src/adapters/kafka/groups';

const OFFSETS = [{ partition: 0, offset: '7', high: '7', low: '0' }];

/** An admin whose fetchTopicOffsets fails with these errors first, then answers; it logs its calls. */
function scriptedAdmin(failures: unknown[], log: string[]): Admin {
  return {
    fetchTopicOffsets: async (topic: string) => {
      log.push(`offsets ${topic}`);
      const f = failures.shift();
      if (f) throw f;
      return OFFSETS;
    },
  } as unknown as Admin;
}

const protocolError = (type: string, code: number) =>
  Object.assign(new KafkaJSProtocolError(`a ${type}`), { type, code });

describe('topicOffsets: end offsets asked again while a leader is unknown', () => {
  it('regression (demo on a fresh stack): NOT_LEADER_FOR_PARTITION and LEADER_NOT_AVAILABLE are asked again after a backoff', async () => {
    const log: string[] = [];
    const admin = scriptedAdmin(
      [protocolError('NOT_LEADER_FOR_PARTITION', 6), protocolError('LEADER_NOT_AVAILABLE', 5)],
      log,
    );
    expect(await topicOffsets(admin, 'odoo.public.res_partner')).to.deep.equal(OFFSETS);
    expect(log).to.deep.equal([
      'offsets odoo.public.res_partner',
      'offsets odoo.public.res_partner',
      'offsets odoo.public.res_partner',
    ]);
  });

  it('any other failure is thrown at once, and a leader still unknown after the last attempt too', async () => {
    const log: string[] = [];
    const denied = Object.assign(new Error('Not authorized to access topics'), {
      type: 'TOPIC_AUTHORIZATION_FAILED',
    });
    const err = await topicOffsets(scriptedAdmin([denied], log), 't').catch((e: unknown) => e);
    expect(err).to.equal(denied);
    expect(log).to.deep.equal(['offsets t']);

    const log2: string[] = [];
    const failures = [1, 2, 3].map(() => protocolError('NOT_LEADER_FOR_PARTITION', 6));
    const last = await topicOffsets(scriptedAdmin(failures, log2), 't', 3).catch((e: unknown) => e);
    expect((last as { type?: string }).type).to.equal('NOT_LEADER_FOR_PARTITION');
    expect(log2.filter((l) => l.startsWith('offsets'))).to.have.length(3);
  });
});
