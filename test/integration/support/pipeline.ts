/**
 * Runs the real projection pipeline (router + projector, kafkajs on the real broker, ledger in the real state
 * database) against an in-process OpenCell sandbox, with topics and consumer groups of its own. The router group
 * starts at the end of the Debezium topics, so only changes made by the test are projected.
 */
import { loadConfig, Config } from '../../../src/core/config';
import { ProjectionPipeline } from '../../../src/flows/projection/pipeline';
import { ensurePipelineTopics, routerTopics, StageHooks } from '../../../src/flows/projection/stages';
import { startOpenCellSandbox, type OpenCellSandboxOptions } from '../../../testkit/sandbox/opencell';
import { KeyedConsumerEvent } from '../../../src/adapters/kafka/keyed-consumer';
import { startGroupAtEnd } from '../../../src/adapters/kafka/kafka';
import { testKafka, uniqueSuffix } from './stack';

export type Sandbox = Awaited<ReturnType<typeof startOpenCellSandbox>>;

export interface TestPipeline {
  sandbox: Sandbox;
  pipeline: ProjectionPipeline;
  config: Config;
  groups: { router: string; projector: string };
  events: { stage: string; e: KeyedConsumerEvent }[];
  /** intents the router derived again and left out, the ledger having finished them (onAlreadyFinished) */
  alreadyFinished: { table: string; intents: number }[];
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export async function startTestPipeline(
  overrides: Record<string, string> = {},
  /** more observers (e.g. the app's Metrics.stageHooks()); consumer events are recorded in `events` anyway */
  hooks: StageHooks = {},
  /** the OpenCell sandbox's options (catalog, credentials, …) */
  sandboxOptions: Omit<OpenCellSandboxOptions, 'port'> = {},
): Promise<TestPipeline> {
  const sandbox = await startOpenCellSandbox({ ...sandboxOptions, port: 0 });
  const suffix = uniqueSuffix();
  const config = loadConfig({
    ...process.env,
    OPENCELL_BASEURL: sandbox.url,
    OPENCELL_USER: sandbox.credentials.user,
    OPENCELL_PASSWORD: sandbox.credentials.password,
    ODOO_PASSWORD: 'unused-here',
    INTENTS_TOPIC: `test.intents-${suffix}`,
    DLQ_TOPIC: `test.dlq-${suffix}`,
    SYNC_EVENTS_TOPIC: `test.sync-events-${suffix}`,
    RETRY_INITIAL_MS: '50',
    RETRY_MAX_MS: '500',
    OPENCELL_TIMEOUT_MS: '3000',
    ...overrides,
  });
  const groups = { router: `test-router-${suffix}`, projector: `test-projector-${suffix}` };
  const kafka = testKafka();
  await ensurePipelineTopics(kafka, config);
  const admin = kafka.admin();
  await admin.connect();
  await startGroupAtEnd(kafka, admin, groups.router, routerTopics(config.topics.prefix));
  await admin.disconnect();
  const events: { stage: string; e: KeyedConsumerEvent }[] = [];
  const alreadyFinished: { table: string; intents: number }[] = [];
  const make = () =>
    new ProjectionPipeline(config, {
      kafka,
      groups,
      hooks: {
        ...hooks,
        onConsumerEvent: (stage, e) => {
          events.push({ stage, e });
          hooks.onConsumerEvent?.(stage, e);
        },
        onAlreadyFinished: (table, intents) => {
          alreadyFinished.push({ table, intents });
          hooks.onAlreadyFinished?.(table, intents);
        },
      },
    });
  const t: TestPipeline = {
    sandbox,
    pipeline: make(),
    config,
    groups,
    events,
    alreadyFinished,
    async stop() {
      await t.pipeline.stop();
      await sandbox.close();
    },
    async restart() {
      await t.pipeline.stop();
      t.pipeline = make();
      await t.pipeline.start();
    },
  };
  await t.pipeline.start();
  return t;
}
