/**
 * Coalesces concurrent sends into one produce request.
 *
 * kafkajs sends every `producer.send` as its own request (one round trip with acks=all each). The stages call send
 * from many concurrent handlers; here the messages of all sends made while a request is in flight wait and go out
 * together in the next `sendBatch` (at most `maxInFlight` requests at once). At low load a send leaves at once;
 * under load the requests grow instead of queueing one round trip each.
 *
 * Each caller's promise settles with its own request's outcome. Per-key order is the callers' business: a caller
 * sends a key's next message only after the previous one's send resolved (as the keyed consumer does), so two
 * messages of one key are never in the same pending set or in two concurrent requests.
 */
import type { CompressionTypes, Message, Producer, RecordMetadata, TopicMessages } from 'kafkajs';

export interface BatchProducer {
  sendBatch: Producer['sendBatch'];
}

export interface CoalescingSenderOptions {
  acks?: number;
  /** requests in flight at once (kafkajs's own per-connection limit still applies) */
  maxInFlight?: number;
  /** messages per request at most */
  maxMessages?: number;
  compression?: CompressionTypes;
}

interface Pending {
  topic: string;
  messages: Message[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class CoalescingSender {
  private pending: Pending[] = [];
  private pendingMessages = 0;
  private inFlight = 0;
  private scheduled = false;
  /** requests made and messages sent (for metrics and tests) */
  readonly stats = { requests: 0, messages: 0, largestRequest: 0 };

  constructor(
    private readonly producer: BatchProducer,
    private readonly opts: CoalescingSenderOptions = {},
  ) {}

  /** Resolves when the request carrying these messages was acknowledged. */
  send(topic: string, messages: Message[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ topic, messages, resolve, reject });
      this.pendingMessages += messages.length;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Let the sends of the same tick (handlers resumed by one fetch or one response) join the request.
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    const maxInFlight = this.opts.maxInFlight ?? 1;
    const maxMessages = this.opts.maxMessages ?? 10_000;
    while (this.pending.length > 0 && this.inFlight < maxInFlight) {
      const group: Pending[] = [];
      let count = 0;
      while (
        this.pending.length > 0 &&
        (group.length === 0 || count + this.pending[0].messages.length <= maxMessages)
      ) {
        const p = this.pending.shift()!;
        group.push(p);
        count += p.messages.length;
      }
      this.pendingMessages -= count;
      this.inFlight++;
      this.stats.requests++;
      this.stats.messages += count;
      this.stats.largestRequest = Math.max(this.stats.largestRequest, count);
      const settle = (outcome: (p: Pending) => void) => {
        // free the slot first: what waited leaves before the callers' next sends are made
        this.inFlight--;
        if (this.pending.length > 0) this.schedule();
        group.forEach(outcome);
      };
      this.request(group).then(
        () => settle((p) => p.resolve()),
        (e: unknown) => settle((p) => p.reject(e)),
      );
    }
  }

  private request(group: Pending[]): Promise<RecordMetadata[]> {
    const byTopic = new Map<string, Message[]>();
    for (const p of group) {
      const list = byTopic.get(p.topic);
      if (list) list.push(...p.messages);
      else byTopic.set(p.topic, [...p.messages]);
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    return this.producer.sendBatch({
      topicMessages,
      acks: this.opts.acks ?? -1,
      compression: this.opts.compression,
    });
  }

  /** Messages waiting for a request. */
  get waiting(): number {
    return this.pendingMessages;
  }
}
