-- Invoices (account.move / account.move.line, Odoo 16) with the OCA contract and somconnexio extensions,
-- enough for the Odoo JSON-RPC sandbox to store invoices imported from OpenCell.

CREATE TABLE IF NOT EXISTS account_move (
  id serial PRIMARY KEY,
  sequence_prefix varchar,
  sequence_number integer,
  name varchar,                          -- INV/2025/00001; '/' while draft
  ref varchar,
  date date NOT NULL,
  state varchar NOT NULL DEFAULT 'draft',          -- draft / posted / cancel
  move_type varchar NOT NULL DEFAULT 'entry',      -- entry / out_invoice / out_refund / in_invoice / …
  is_storno boolean DEFAULT false,
  journal_id integer NOT NULL,
  company_id integer,
  currency_id integer NOT NULL,
  partner_id integer,
  commercial_partner_id integer,
  is_move_sent boolean DEFAULT false,
  partner_bank_id integer,
  payment_reference varchar,
  payment_id integer,
  statement_line_id integer,
  amount_untaxed numeric,
  amount_tax numeric,
  amount_total numeric,
  amount_residual numeric,
  amount_untaxed_signed numeric,
  amount_tax_signed numeric,
  amount_total_signed numeric,
  amount_total_in_currency_signed numeric,
  amount_residual_signed numeric,
  payment_state varchar DEFAULT 'not_paid',        -- not_paid / in_payment / paid / partial / reversed / invoicing_legacy
  reversed_entry_id integer,
  fiscal_position_id integer,
  invoice_user_id integer,
  invoice_date date,
  invoice_date_due date,
  invoice_origin varchar,
  invoice_payment_term_id integer,
  narration text,
  invoice_source_email varchar,
  invoice_partner_display_name varchar,
  auto_post varchar NOT NULL DEFAULT 'no',
  posted_before boolean DEFAULT false,
  to_check boolean DEFAULT false,
  -- OCA account_payment_partner / account_banking_mandate
  payment_mode_id integer,
  mandate_id integer,
  -- OCA contract
  old_contract_id integer,
  -- somconnexio / invoice_somconnexio
  contract_group_id integer,
  billing_run_id varchar,
  emails varchar,
  b2_file_id varchar,
  invoice_tokenized_url varchar,
  -- somconnexio account.move, "TODO: Remove after stop invoicing with OC": the OpenCell totals (Float -> float8)
  oc_taxes varchar,
  oc_total double precision,
  oc_untaxed double precision,
  oc_total_taxed double precision,
  payment_mode_type varchar,
  account_id integer,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);
CREATE INDEX IF NOT EXISTS account_move_ref_index ON account_move (ref);
CREATE INDEX IF NOT EXISTS account_move_partner_id_index ON account_move (partner_id);
CREATE INDEX IF NOT EXISTS account_move_contract_group_id_index ON account_move (contract_group_id);

CREATE TABLE IF NOT EXISTS account_move_line (
  id serial PRIMARY KEY,
  move_id integer NOT NULL,
  journal_id integer,
  company_id integer,
  company_currency_id integer,
  move_name varchar,
  parent_state varchar,
  date date,
  ref varchar,
  sequence integer DEFAULT 10,
  account_id integer,
  name varchar,
  debit numeric,
  credit numeric,
  balance numeric,
  amount_currency numeric,
  currency_id integer NOT NULL,
  partner_id integer,
  reconciled boolean,
  is_storno boolean,
  blocked boolean DEFAULT false,
  date_maturity date,
  tax_line_id integer,
  tax_group_id integer,
  tax_base_amount numeric,
  tax_repartition_line_id integer,
  tax_tag_invert boolean,
  amount_residual numeric,
  amount_residual_currency numeric,
  full_reconcile_id integer,
  matching_number varchar,
  product_id integer,
  product_uom_id integer,
  quantity numeric,
  price_unit numeric,
  discount numeric DEFAULT 0,
  price_subtotal numeric,
  price_total numeric,
  display_type varchar NOT NULL DEFAULT 'product', -- product / cogs / tax / rounding / payment_term / line_section / line_note / epd
  analytic_distribution jsonb,
  statement_line_id integer,
  payment_id integer,
  contract_line_id integer,              -- OCA contract
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);
CREATE INDEX IF NOT EXISTS account_move_line_move_id_index ON account_move_line (move_id);

CREATE TABLE IF NOT EXISTS account_move_line_account_tax_rel (
  account_move_line_id integer NOT NULL,
  account_tax_id integer NOT NULL,
  PRIMARY KEY (account_move_line_id, account_tax_id)
);
CREATE INDEX IF NOT EXISTS account_move_line_account_tax_rel_account_tax_id_idx
  ON account_move_line_account_tax_rel (account_tax_id, account_move_line_id);

-- somconnexio: which contracts an invoice line bills.
CREATE TABLE IF NOT EXISTS contract_account_invoice_line_relation (
  id serial PRIMARY KEY,
  account_invoice_line_id integer NOT NULL,   -- both required upstream
  contract_id integer NOT NULL,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);
