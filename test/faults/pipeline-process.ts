/**
 * A standalone pipeline process for the fault tests: the projection pipeline (router + projector) and the outbox relay
 * in one process, configured from the environment like production (loadConfig), plus:
 *   FAULT_ROUTER_GROUP / FAULT_PROJECTOR_GROUP  consumer groups of this run
 *   FAULT_RELAY_LOCK_KEY                         the relay's advisory lock key (one per run: others share the database)
 *   FAULT_SESSION_TIMEOUT_MS                     consumer session timeout (a kill -9 leaves a dead member behind until
 *                                                it expires; the production 30 s would make 20 restarts take 10 minutes)
 *   FAULT_HTTP=1                                 serve /readyz and /metrics on a free port (event `http` names it) with
 *                                                the process's consumer metrics and its blocked-partitions check
 * Machine-readable events go to stdout as lines `@@ {json}` (consumer retries, dead letters, OpenCell call failures,
 * relay errors, readiness); the logger writes to stderr. SIGTERM stops gracefully; a crashed Kafka consumer exits 1
 * (the supervisor — the test — restarts the process, like systemd would).
 */
import type { Consumer, ConsumerConfig } from 'kafkajs';
import { createPool } from '../../src/adapters/postgres/pool';
import { loadConfig } from '../../src/core/config';
import { componentLogger, redactString } from '../../src/core/log';
import { createOutboxRelay } from '../../src/flows/outbox/relay';
import { ProjectionPipeline } from '../../src/flows/projection/pipeline';
import { createKafka } from '../../src/adapters/kafka/kafka';
import { Metrics } from '../../src/app/metrics';
import { startOpsServer, type OpsServer } from '../../src/app/http';

const log = componentLogger('fault-worker');
const emit = (type: string, data: Record<string, unknown> = {}) =>
  process.stdout.write(`@@ ${JSON.stringify({ type, ...data })}\n`);

async function main(): Promise<void> {
  const env = process.env;
  const config = loadConfig(env);
  const kafka = createKafka(config.kafka, `fault-worker-${process.pid}`);
  const sessionTimeout = Number(env.FAULT_SESSION_TIMEOUT_MS ?? 6000);
  const makeConsumer = kafka.consumer.bind(kafka);
  kafka.consumer = (cfg: ConsumerConfig): Consumer => {
    const c = makeConsumer({
      ...cfg,
      sessionTimeout,
      rebalanceTimeout: sessionTimeout * 2,
      heartbeatInterval: Math.min(1000, cfg.heartbeatInterval ?? 1000),
    });
    c.on(c.events.CRASH, (e) => {
      emit('consumer-crash', {
        group: cfg.groupId,
        restart: e.payload.restart,
        error: redactString(String(e.payload.error?.message ?? e.payload.error)),
      });
      if (!e.payload.restart) {
        log.error(`consumer of ${cfg.groupId} crashed for good; exiting for the supervisor to restart`);
        process.exit(1);
      }
    });
    // every member of a group reports each rebalance it takes part in (the rebalance-storm scenario counts them)
    c.on(c.events.GROUP_JOIN, (e) =>
      emit('group-join', {
        group: cfg.groupId,
        memberId: e.payload.memberId,
        partitions: Object.values(e.payload.memberAssignment).reduce((n, ps) => n + ps.length, 0),
      }),
    );
    return c;
  };

  const metrics = env.FAULT_HTTP === '1' ? new Metrics({ defaultMetrics: false }) : undefined;
  const pipeline = new ProjectionPipeline(config, {
    kafka,
    groups: { router: env.FAULT_ROUTER_GROUP, projector: env.FAULT_PROJECTOR_GROUP },
    hooks: {
      onConsumerEvent: (stage, e) => {
        metrics?.onConsumerEvent(stage, e);
        if (e.type !== 'processed') emit(e.type, { stage, ...e });
        else if (stage === 'projector') emit('projected', { offset: e.offset, partition: e.partition });
      },
    },
  });
  pipeline.client.onCall((e) => {
    if (e.outcome !== 'success')
      emit('call', { endpoint: e.endpoint, outcome: e.outcome, status: e.httpStatus, code: e.errorCode });
  });
  const pool = createPool({
    connectionString: config.stateDatabaseUrl,
    max: 2,
    application_name: 'fault-worker-relay',
  });
  const relay = createOutboxRelay(
    config,
    { pool, kafka },
    {
      lockKey: Number(env.FAULT_RELAY_LOCK_KEY ?? 1),
      pollMs: 200,
      retryInitialMs: 100,
      retryMaxMs: 1000,
      metrics: {
        onError: (err, fatal) =>
          emit('relay-error', { code: (err as { code?: string }).code ?? 'UNKNOWN', fatal }),
        onPublished: (count) => emit('published', { count }),
      },
    },
  );

  let http: OpsServer | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping gracefully`);
    setTimeout(() => process.exit(2), 20_000).unref();
    await relay.stop().catch((e: unknown) => log.error(`relay stop: ${(e as Error).message}`));
    await pipeline.stop().catch((e: unknown) => log.error(`pipeline stop: ${(e as Error).message}`));
    await pool.end().catch(() => undefined);
    await http?.close();
    emit('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  await pipeline.start();
  await relay.start();
  if (metrics) {
    http = await startOpsServer({
      port: 0,
      registry: metrics.registry,
      checks: { 'blocked-partitions': metrics.blockedCheck() },
    });
    emit('http', { port: http.port });
  }
  emit('ready', { pid: process.pid });
  log.info('fault worker ready');
}

process.on('unhandledRejection', (e) => {
  log.error(`unhandled rejection: ${(e as Error)?.message ?? String(e)}`);
  process.exit(1);
});

main().catch((e: unknown) => {
  log.error(`fault worker failed to start: ${(e as Error).message}`);
  process.exit(1);
});
