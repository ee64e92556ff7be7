import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { startOpsServer } from '../../src/app/http';
import { loadConfig } from '../../src/core/config';

describe('ops HTTP server address (issue 16: loopback unless configured)', () => {
  it('binds 127.0.0.1 by default, not every interface', async () => {
    expect(loadConfig({}, []).httpHost).to.equal('127.0.0.1');
    const server = await startOpsServer({ port: 0, registry: new Registry(), checks: {} });
    try {
      expect((server.server.address() as AddressInfo).address).to.equal('127.0.0.1');
    } finally {
      await server.close();
    }
  });

  it('binds the address HTTP_HOST names (0.0.0.0 in a container or pod)', async () => {
    const config = loadConfig({ HTTP_HOST: '0.0.0.0' }, []);
    expect(config.httpHost).to.equal('0.0.0.0');
    const server = await startOpsServer({
      port: 0,
      host: config.httpHost,
      registry: new Registry(),
      checks: {},
    });
    try {
      expect((server.server.address() as AddressInfo).address).to.equal('0.0.0.0');
    } finally {
      await server.close();
    }
  });
});
