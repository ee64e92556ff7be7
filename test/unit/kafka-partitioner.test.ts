import { expect } from 'chai';
import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { KeyHashPartitioner, keyHash, murmur2 } from '../../src/adapters/kafka/partitioner';

const metadata = (n: number, leaderless: number[] = []): PartitionerArgs['partitionMetadata'] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: leaderless.includes(partitionId) ? -1 : 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));

describe('the producers’ partitioner: kafkajs’s and Java’s murmur2 partitions without their allocations', () => {
  it('puts every key on the partition kafkajs’s DefaultPartitioner puts it (strings of every length, UTF-8, buffers)', () => {
    const ours = KeyHashPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const keys: (string | Buffer)[] = [''];
    for (let i = 0; i < 3000; i++) keys.push(`partner:${i}`, `${'x'.repeat(i % 13)}${i * 7919}`);
    keys.push('partner:àçñ€', '日本語のキー', '😀 emoji key', 'a'.repeat(400), 'ü'.repeat(500)); // the last over the scratch
    for (let i = 0; i < 200; i++)
      keys.push(Buffer.from(Array.from({ length: i % 37 }, (_, j) => (i * 31 + j * 17) & 0xff)));
    for (const n of [1, 3, 16, 48]) {
      const partitionMetadata = metadata(n);
      for (const key of keys) {
        const args = { topic: 't', partitionMetadata, message: { key, value: 'v' } };
        expect(ours(args), `key ${String(key)} over ${n} partitions`).to.equal(theirs(args));
      }
    }
  });

  it('matches the Java client’s murmur2 on its published test vectors', () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ];
    for (const [s, h] of cases) {
      expect(murmur2(Buffer.from(s))).to.equal(h);
      expect(keyHash(s)).to.equal(h);
    }
  });

  it('keeps an explicit partition, and sends keyless messages round-robin over the partitions that have a leader', () => {
    const p = KeyHashPartitioner();
    const partitionMetadata = metadata(4, [1, 3]);
    expect(p({ topic: 't', partitionMetadata, message: { key: 'k', value: 'v', partition: 3 } })).to.equal(3);
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) seen.add(p({ topic: 't', partitionMetadata, message: { value: 'v' } }));
    expect([...seen].sort()).to.deep.equal([0, 2]);
  });
});
