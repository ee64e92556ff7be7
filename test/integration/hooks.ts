/**
 * Root hooks for the integration suite: the real stack must be up (started by `npm test`; started here when a
 * developer runs `npm run test:integration` alone), and shared clients are closed at the end.
 */
import { closeStackClients, stackHealthy, stackScript } from './support/stack';

export const mochaHooks = {
  beforeAll(this: Mocha.Context) {
    this.timeout(600_000);
    if (!stackHealthy()) stackScript('up');
  },
  async afterAll() {
    await closeStackClients();
  },
};
