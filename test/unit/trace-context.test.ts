import { expect } from 'chai';
import { logger } from '../../src/core/log';
import {
  childTraceparent,
  formatTraceparent,
  parseTraceparent,
  randomSpanId,
  traceFromSeed,
  withTrace,
} from '../../src/core/trace';
import { outboxRowValues } from '../../src/adapters/postgres/outbox-store';
import { traceHeader } from '../../src/adapters/http-transport';
import { changeTrace, intentTrace } from '../../src/flows/projection/stages';
import type { IntentMessage } from '../../src/domain/intents/message';
import { captureLogLines } from '../support/log-capture';

describe('W3C trace context', () => {
  it('parses and formats traceparent version 00; a bad header is no trace', () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(parseTraceparent(tp)).to.deep.equal({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
    });
    expect(formatTraceparent(parseTraceparent(Buffer.from(tp))!)).to.equal(tp);
    for (const bad of [
      '',
      'x',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf9-00f0-01',
      undefined,
    ])
      expect(parseTraceparent(bad), String(bad)).to.equal(null);
  });

  it('span ids of outgoing calls: 16 hex digits, never all zero, distinct across several refills of their pool', () => {
    const ids = Array.from({ length: 2000 }, () => randomSpanId());
    for (const id of ids) {
      expect(id).to.match(/^[0-9a-f]{16}$/);
      expect(id).not.to.equal('0000000000000000');
    }
    expect(new Set(ids).size).to.equal(ids.length);
  });

  it('a change has the same trace id when read again; another change another one', () => {
    const source = {
      table: 'contract_line',
      op: 'c',
      rowId: 7,
      lsn: 123456,
      txId: 99,
      tsMs: 1,
      snapshot: false,
      topic: 'odoo.public.contract_line',
      partition: 0,
      offset: '5',
    };
    expect(changeTrace(source)).to.deep.equal(changeTrace({ ...source, topic: 'x', offset: '77' }));
    expect(changeTrace(source).traceId).to.not.equal(changeTrace({ ...source, lsn: 123457 }).traceId);
    const msg = { intentId: 'abc', source } as unknown as IntentMessage;
    const header = formatTraceparent(changeTrace(source));
    expect(intentTrace({ traceparent: Buffer.from(header) }, msg)).to.deep.equal(changeTrace(source));
    expect(intentTrace({}, msg)).to.deep.equal(traceFromSeed('intent|abc'));
  });

  it('inside a trace: log lines carry its id, calls send its traceparent with a span of their own, outbox rows keep it', async () => {
    const capture = captureLogLines();
    const { lines } = capture;
    capture.attach(); // the test's transport alone hears the pipeline's info lines
    const trace = traceFromSeed('test');
    const payload = {
      eventId: '0b9a3e0c-8a3b-4c67-9d4e-6b0c1f9b2a11',
      occurredAt: 1,
      invoiceNumber: 'INV-1',
      invoiceId: null,
      invoiceType: 'COM',
      invoiceDate: '2026-12-01',
      dueDate: null,
      customerCode: 'C1',
      subscriptionCodes: [],
      customerAccountCode: 'C1_0',
      billingAccountCode: 'C1_0',
      amountWithoutTax: '1.00',
      amountTax: '0.21',
      amountWithTax: '1.21',
      currency: 'EUR',
      pdfAvailable: false,
      lines: [],
    };
    let header: Record<string, string> = {};
    let row: unknown[] = [];
    try {
      await withTrace(trace, async () => {
        await new Promise((r) => setTimeout(r, 1)); // the context survives an await
        logger.child({ component: 'test' }).info('inside');
        header = traceHeader();
        row = outboxRowValues({
          type: 'InvoiceIssued',
          topic: 't',
          aggregateType: 'invoice',
          aggregateId: 'INV-1',
          payload,
        } as never);
      });
      logger.child({ component: 'test' }).info('outside');
    } finally {
      capture.detach();
    }
    expect(lines.find((l) => l.message === 'inside')?.traceId).to.equal(trace.traceId);
    expect(lines.find((l) => l.message === 'outside')).to.not.have.property('traceId');
    const sent = parseTraceparent(header.traceparent);
    expect(sent?.traceId).to.equal(trace.traceId);
    expect(sent?.spanId).to.not.equal(trace.spanId);
    expect(row[row.length - 1]).to.equal(formatTraceparent(trace));
    expect(traceHeader()).to.deep.equal({});
    expect(childTraceparent()).to.equal(null);
  });
});
