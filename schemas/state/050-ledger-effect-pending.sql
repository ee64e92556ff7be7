-- One-shot charges are written ahead: an effect row with outcome 'pending' is stored before the call and becomes
-- 'applied' after it. A retry that finds its own 'pending' row does not know whether OpenCell applied the charge
-- (worker killed after the call, or the answer lost), so it counts the subscription's one-shot instances of that
-- charge in OpenCell against the ones this ledger already accounts for, and applies only when none is unaccounted.
ALTER TABLE ledger_effect ADD COLUMN IF NOT EXISTS charge_code text;  -- the one-shot charge template code
CREATE INDEX IF NOT EXISTS ledger_effect_one_shot ON ledger_effect (opencell_code, charge_code) WHERE charge_code IS NOT NULL;
COMMENT ON COLUMN ledger_effect.outcome IS 'applied | already_present | pending (one-shots: written before the call)';
