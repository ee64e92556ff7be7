-- Issue 15 §8: the customer queue of each contract. The router keys a contract's intents by a partner (the intents
-- topic is keyed `partner:<id>`, so one customer's OpenCell work is serialised). That partner is pinned the first time
-- the contract is routed and never moves: a contract whose partner changes in Odoo keeps its queue (its intents
-- before and after the change stay in order), as its OpenCell subscription stays in the customer it was created in
-- (the original module sends nothing for a partner change; docs/behaviour.md "Not watched", docs/parity.md NW-partner-change).
CREATE TABLE IF NOT EXISTS contract_route (
  contract_id  bigint      PRIMARY KEY,
  partner_id   bigint      NOT NULL,
  pinned_at    timestamptz NOT NULL DEFAULT now()
);
