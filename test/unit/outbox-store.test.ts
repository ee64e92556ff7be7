import { expect } from 'chai';
import {
  EVENT_ID_NAMESPACES,
  isUuid,
  newEventId,
  stableEventId,
} from '../../src/adapters/postgres/outbox-store';

describe('outbox event ids', () => {
  it('newEventId gives distinct uuid v4 values', () => {
    const a = newEventId();
    const b = newEventId();
    expect(a).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a).to.not.equal(b);
  });

  it('stableEventId follows the RFC 4122 version 5 derivation (published test vector)', () => {
    // DNS namespace, "www.example.com" → 2ed6657d-e927-568b-95e1-2665a8aea6a2 (RFC 4122 errata / Python uuid5)
    expect(stableEventId('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).to.equal(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('stableEventId is deterministic per (namespace, name) and differs across names and namespaces', () => {
    const ns = EVENT_ID_NAMESPACES.invoice;
    const a = stableEventId(ns, 'INV-2025-000123');
    expect(stableEventId(ns, 'INV-2025-000123')).to.equal(a);
    expect(stableEventId(ns, 'INV-2025-000124')).to.not.equal(a);
    expect(stableEventId(EVENT_ID_NAMESPACES.syncOutcome, 'INV-2025-000123')).to.not.equal(a);
    expect(a).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(isUuid(a)).to.equal(true);
  });

  it('stableEventId accepts a plain label as namespace and stays deterministic', () => {
    const a = stableEventId('invoice', 'X1');
    expect(a).to.equal(stableEventId('invoice', 'X1'));
    expect(a).to.not.equal(stableEventId('invoices', 'X1'));
    expect(isUuid(a)).to.equal(true);
  });
});
