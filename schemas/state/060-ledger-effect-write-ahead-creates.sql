-- Issue 19 §1: every create of a create plan (createCustomer, CRM account hierarchy, subscription, access) is written
-- ahead too: its effect row is stored with outcome 'pending' before the call and becomes 'applied' (or
-- 'already_present') after it. A process killed while the call is in flight, or after OpenCell answered and before
-- the ledger recorded it, leaves that row behind; the next try resumes the plan from OpenCell's state, and a customer
-- whose createCustomer row exists (any outcome) is one this pipeline created: without customer accounts it is a plan
-- cut short (its hierarchy is finished), not the original's "customer with no customer accounts" refusal.
COMMENT ON COLUMN ledger_effect.outcome IS
  'applied | already_present | pending (written before the call: one-shots and the creates of a create plan)';
