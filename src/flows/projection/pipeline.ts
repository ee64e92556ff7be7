/**
 * Assembles the projection pipeline from config: Kafka client and producer, the readers (Odoo's database,
 * OpenCell through the production client), the catalog cache, the ledger, and the router and projector stages.
 */
import { Kafka, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { createPool } from '../../adapters/postgres/pool';
import type { Config } from '../../core/config';
import { OpenCellClient } from '../../adapters/opencell/client';
import { createKafka } from '../../adapters/kafka/kafka';
import type { KeyedConsumer } from '../../adapters/kafka/keyed-consumer';
import { CatalogCache } from '../../adapters/opencell/catalog-cache';
import { OdooViews } from '../../adapters/postgres/odoo-views';
import { OpenCellState } from '../../adapters/opencell/opencell-state';
import { projectionConfig, type ProjectionConfig } from '../../domain/projection/payloads';
import { componentLogger } from '../../core/log';
import { readOdooOpenCellSettings } from '../../adapters/postgres/odoo-settings';
import { Ledger } from '../../adapters/postgres/ledger';
import { PgPartitionFence } from '../../adapters/postgres/fence';
import { hostname } from 'node:os';
import { PgDeadLetterIndex } from '../../adapters/postgres/dead-letter-index';
import { PgContractRoutes } from '../../adapters/postgres/contract-routes';
import { PgHeldIntents } from '../../adapters/postgres/held-intents';
import { Projector } from './projector';
import {
  createProducer,
  createProjector,
  createRouter,
  ensurePipelineTopics,
  PROJECTOR_GROUP,
  StageHooks,
} from './stages';
import { PinnedRoutingReader } from './router';

export type Role = 'router' | 'projector';

export interface ProjectionPipelineOptions {
  roles?: Role[];
  hooks?: StageHooks;
  /** Group ids (tests use their own). */
  groups?: Partial<Record<Role, string>>;
  kafka?: Kafka;
  client?: OpenCellClient;
}

export class ProjectionPipeline {
  readonly kafka: Kafka;
  readonly client: OpenCellClient;
  readonly odooPool: Pool;
  readonly statePool: Pool;
  readonly ledger: Ledger;
  private readonly deadLetterIndex: PgDeadLetterIndex;
  /** what the projector's payloads are built with (its seller and category settled at start) */
  private readonly projection: ProjectionConfig;
  private readonly log = componentLogger('pipeline');
  readonly projector: Projector;
  private producer: Producer | undefined;
  private readonly stages: KeyedConsumer[] = [];
  private stopped = false;

  constructor(
    readonly config: Config,
    private readonly opts: ProjectionPipelineOptions = {},
  ) {
    this.kafka = opts.kafka ?? createKafka(config.kafka, config.kafka.clientId);
    this.client = opts.client ?? new OpenCellClient(config.opencell);
    // Every in-flight intent reads Odoo and writes the ledger: size the pools to the projector's concurrency so
    // handlers do not queue for a connection while OpenCell calls are the intended bottleneck.
    const poolMax =
      config.pgPoolMax === 'auto'
        ? Math.max(8, Math.min(64, config.opencell.concurrency + 4))
        : config.pgPoolMax;
    this.odooPool = createPool({
      connectionString: config.odooDatabaseUrl,
      max: poolMax,
      application_name: 'odoo-opencell-sync',
    });
    this.statePool = createPool({
      connectionString: config.stateDatabaseUrl,
      max: poolMax,
      application_name: 'odoo-opencell-sync',
    });
    this.ledger = new Ledger(this.statePool, config.topics.syncEvents);
    this.projection = projectionConfig(config);
    this.deadLetterIndex = new PgDeadLetterIndex(this.statePool);
    this.projector = new Projector({
      odoo: new OdooViews(this.odooPool, { lang: config.odoo.lang }),
      opencell: new OpenCellState(this.client),
      client: this.client,
      ledger: this.ledger,
      catalog: new CatalogCache(this.client),
      config: this.projection,
      snapshotOneShotsSince: config.snapshotOneShotsSince,
      ...(config.heldIntents.enabled
        ? { held: { port: new PgHeldIntents(this.statePool, config.topics.intents) } }
        : {}),
    });
  }

  /** The seller and customer category codes the projector sends (settled by start: see resolveOpenCellSettings). */
  get opencellSettings(): { seller: string; customerCategory: string } {
    return { seller: this.projection.seller, customerCategory: this.projection.customerCategory };
  }

  /**
   * The original reads its seller and customer category from Odoo's ir.config_parameter (docs/parity.md K-config):
   * so does the projector when OPENCELL_SELLER / OPENCELL_CUSTOMER_CATEGORY are unset, once at start; a key absent
   * there keeps the original's default (SC / CLIENT), as get_param's default did.
   */
  private async resolveOpenCellSettings(): Promise<void> {
    const fromOdoo = this.config.opencell.fromOdoo;
    if (!fromOdoo.seller && !fromOdoo.customerCategory) return;
    const read = await readOdooOpenCellSettings(this.odooPool);
    if (!read.readable) {
      this.log.warn(
        `cannot read the OpenCell settings from Odoo's ir.config_parameter (${read.why}): using seller ${this.projection.seller} and customer category ${this.projection.customerCategory}; run pg-setup (README "Database roles") or set OPENCELL_SELLER and OPENCELL_CUSTOMER_CATEGORY`,
      );
      return;
    }
    if (fromOdoo.seller && read.seller) this.projection.seller = read.seller;
    if (fromOdoo.customerCategory && read.customerCategory)
      this.projection.customerCategory = read.customerCategory;
    this.log.info(
      `OpenCell seller ${this.projection.seller} and customer category ${this.projection.customerCategory} (unset settings read from Odoo's ir.config_parameter, its defaults where a key is absent)`,
    );
  }

  async start(): Promise<void> {
    const roles = this.opts.roles ?? ['router', 'projector'];
    if (roles.includes('projector')) await this.resolveOpenCellSettings();
    await ensurePipelineTopics(this.kafka, this.config);
    this.producer = createProducer(this.kafka);
    await this.producer.connect();
    if (roles.includes('router')) {
      const views = new OdooViews(this.odooPool, { lang: this.config.odoo.lang });
      this.stages.push(
        createRouter({
          kafka: this.kafka,
          producer: this.producer,
          config: this.config,
          reader: new PinnedRoutingReader(views, new PgContractRoutes(this.statePool)),
          hooks: this.opts.hooks,
          groupId: this.opts.groups?.router,
          deadLetterIndex: this.deadLetterIndex,
          finished: (ids) => this.projector.finished(ids),
        }),
      );
    }
    if (roles.includes('projector')) {
      const groupId = this.opts.groups?.projector ?? PROJECTOR_GROUP;
      this.stages.push(
        createProjector({
          kafka: this.kafka,
          producer: this.producer,
          config: this.config,
          projector: this.projector,
          hooks: this.opts.hooks,
          groupId,
          deadLetterIndex: this.deadLetterIndex,
          fence: new PgPartitionFence(
            this.statePool,
            groupId,
            `${hostname()}/${process.pid}`,
            this.config.fenceLeaseMs,
          ),
        }),
      );
    }
    for (const s of this.stages) await s.start();
  }

  /** Stops fetching, lets in-flight work finish, commits, disconnects. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const s of this.stages.splice(0)) await s.stop();
    await this.producer?.disconnect();
    this.client.close();
    await this.odooPool.end();
    await this.statePool.end();
  }
}
