-- Partners, banks, bank accounts and SEPA mandates (base, account, OCA partner_firstname,
-- OCA account_banking_mandate / account_banking_sepa_direct_debit, somconnexio).

CREATE TABLE IF NOT EXISTS res_partner (
  id serial PRIMARY KEY,
  name varchar,                       -- stored compute from firstname/lastname (partner_firstname)
  firstname varchar,                  -- OCA partner_firstname
  lastname varchar,                   -- OCA partner_firstname
  display_name varchar,               -- stored compute in 16; noisy, never captured
  company_id integer,
  date date,
  title integer,
  parent_id integer,
  ref varchar,                        -- OpenCell customer code (somconnexio.sequence_partner)
  lang varchar,                       -- ca_ES / es_ES
  tz varchar,
  user_id integer,
  vat varchar,
  website varchar,
  comment text,
  credit_limit double precision,
  active boolean DEFAULT true,
  employee boolean DEFAULT false,
  function varchar,
  type varchar DEFAULT 'representative',  -- somconnexio's selection: contract-email/service/invoice/delivery/other/representative (no 'contact')
  street varchar,
  street2 varchar,
  full_street varchar,                -- somconnexio stored compute: street + ' ' + street2
  zip varchar,
  city varchar,
  state_id integer,
  country_id integer,
  partner_latitude numeric,
  partner_longitude numeric,
  email varchar,
  email_normalized varchar,
  phone varchar,
  mobile varchar,
  is_company boolean DEFAULT false,
  industry_id integer,
  color integer,
  partner_share boolean,
  commercial_partner_id integer,      -- stored compute
  commercial_company_name varchar,
  company_name varchar,
  barcode varchar,
  customer_rank integer DEFAULT 0,    -- account
  supplier_rank integer DEFAULT 0,    -- account
  invoice_warn varchar DEFAULT 'no-message',
  -- somconnexio
  has_active_contract boolean,
  volunteer boolean,
  nationality integer,
  only_indispensable_emails boolean,
  -- opencell_somconnexio, the module this project replaces (gone once it is uninstalled; the pipeline copes
  -- without it: src/adapters/postgres/odoo-schema.ts). Odoo quotes the name.
  "block_contract_creation_in_OC" boolean DEFAULT false,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
  -- no res_partner_check_name: partner_firstname replaces base's check_name with CHECK(1=1)
);
CREATE INDEX IF NOT EXISTS res_partner_parent_id_index ON res_partner (parent_id);
CREATE INDEX IF NOT EXISTS res_partner_ref_index ON res_partner (ref);
CREATE INDEX IF NOT EXISTS res_partner_commercial_partner_id_index ON res_partner (commercial_partner_id);

CREATE TABLE IF NOT EXISTS res_bank (
  id serial PRIMARY KEY,
  name varchar NOT NULL,
  street varchar,
  street2 varchar,
  zip varchar,
  city varchar,
  state integer,                      -- Many2one named "state" in base
  country integer,                    -- Many2one named "country" in base
  email varchar,
  phone varchar,
  active boolean DEFAULT true,
  bic varchar,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS res_partner_bank (
  id serial PRIMARY KEY,
  active boolean DEFAULT true,
  acc_number varchar NOT NULL,        -- the IBAN as typed
  sanitized_acc_number varchar,       -- stored compute: no spaces, upper case
  acc_holder_name varchar,
  partner_id integer NOT NULL,
  allow_out_payment boolean DEFAULT false,
  bank_id integer,
  sequence integer,
  currency_id integer,
  company_id integer,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  CONSTRAINT res_partner_bank_unique_number UNIQUE (sanitized_acc_number, partner_id)
);

CREATE TABLE IF NOT EXISTS account_banking_mandate (
  id serial PRIMARY KEY,
  format varchar NOT NULL DEFAULT 'sepa',          -- basic / sepa
  type varchar DEFAULT 'recurrent',                -- recurrent / oneoff
  partner_bank_id integer,
  partner_id integer,                              -- related stored (partner_bank_id.partner_id)
  company_id integer NOT NULL,
  unique_mandate_reference varchar(35),
  signature_date date,
  last_debit_date date,
  state varchar DEFAULT 'draft',                   -- draft / valid / expired / cancel
  recurrent_sequence_type varchar DEFAULT 'first', -- first / recurring / final (sepa direct debit)
  scheme varchar DEFAULT 'CORE',                   -- CORE / B2B
  display_name varchar,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  CONSTRAINT account_banking_mandate_mandate_ref_company_uniq UNIQUE (unique_mandate_reference, company_id)
);
