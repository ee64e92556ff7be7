import { expect } from 'chai';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { REGISTRY_URL, uniqueSuffix } from './support/stack';

describe('Schema registry (Apicurio, Confluent-compatible API) with @kafkajs/confluent-schema-registry', () => {
  it('registers an Avro schema under <topic>-value and encodes and decodes a message', async () => {
    const registry = new SchemaRegistry({ host: REGISTRY_URL });
    const subject = `test.registry-${uniqueSuffix()}-value`;
    const schema = {
      type: 'record',
      name: 'Probe',
      namespace: 'coop.somconnexio.sync.test',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'amount', type: 'string' },
        { name: 'at', type: 'long' },
      ],
    };
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject },
    );
    expect(id).to.be.a('number');
    const again = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject },
    );
    expect(again.id).to.equal(id);
    const value = { id: 'x1', amount: '29.90', at: Date.parse('2025-01-31T00:00:00Z') };
    const encoded = await registry.encode(id, value);
    expect(encoded[0]).to.equal(0);
    expect(encoded.readInt32BE(1)).to.equal(id);
    const decoded = await new SchemaRegistry({ host: REGISTRY_URL }).decode(encoded);
    expect({ ...decoded }).to.deep.equal(value);
  });

  it('refuses an incompatible new version (BACKWARD)', async () => {
    const registry = new SchemaRegistry({ host: REGISTRY_URL });
    const subject = `test.compat-${uniqueSuffix()}-value`;
    const v1 = { type: 'record', name: 'E', namespace: 't', fields: [{ name: 'a', type: 'string' }] };
    const v2 = {
      type: 'record',
      name: 'E',
      namespace: 't',
      fields: [
        { name: 'a', type: 'string' },
        { name: 'b', type: 'int' },
      ],
    };
    await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
    let err: Error | undefined;
    try {
      await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject });
    } catch (e) {
      err = e as Error;
    }
    expect(err, 'adding a field without default must be refused').to.be.instanceOf(Error);
  });
});
