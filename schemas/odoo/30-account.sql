-- Accounting reference tables (account, OCA account_payment_mode, somconnexio's account_tax.oc_code).

CREATE TABLE IF NOT EXISTS account_account (
  id serial PRIMARY KEY,
  name varchar NOT NULL,
  currency_id integer,
  code varchar(64) NOT NULL,
  deprecated boolean DEFAULT false,
  used boolean,
  account_type varchar NOT NULL,        -- 16: income / asset_receivable / liability_current / asset_cash / …
  internal_group varchar,
  reconcile boolean DEFAULT false,
  note text,
  company_id integer NOT NULL,
  non_trade boolean DEFAULT false,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  CONSTRAINT account_account_code_company_uniq UNIQUE (code, company_id)
);

CREATE TABLE IF NOT EXISTS account_journal (
  id serial PRIMARY KEY,
  name jsonb NOT NULL,                  -- translated in 16
  code varchar(5) NOT NULL,
  active boolean DEFAULT true,
  type varchar NOT NULL,                -- sale / purchase / cash / bank / general
  default_account_id integer,
  suspense_account_id integer,
  restrict_mode_hash_table boolean DEFAULT false,
  sequence integer DEFAULT 10,
  currency_id integer,
  company_id integer NOT NULL,
  refund_sequence boolean DEFAULT true,
  show_on_dashboard boolean DEFAULT true,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  CONSTRAINT account_journal_code_company_uniq UNIQUE (company_id, code)
);

CREATE TABLE IF NOT EXISTS account_tax_group (
  id serial PRIMARY KEY,
  name jsonb NOT NULL,
  sequence integer DEFAULT 10,
  country_id integer,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS account_tax (
  id serial PRIMARY KEY,
  name jsonb NOT NULL,                  -- translated in 16
  type_tax_use varchar NOT NULL,        -- sale / purchase / none
  tax_scope varchar,                    -- service / consu
  amount_type varchar NOT NULL DEFAULT 'percent',  -- group / fixed / percent / division
  active boolean DEFAULT true,
  company_id integer NOT NULL,
  sequence integer NOT NULL DEFAULT 1,
  amount numeric NOT NULL,
  description jsonb,
  price_include boolean DEFAULT false,
  include_base_amount boolean DEFAULT false,
  is_base_affected boolean DEFAULT true,
  analytic boolean DEFAULT false,
  tax_group_id integer NOT NULL,
  tax_exigibility varchar DEFAULT 'on_invoice',
  country_id integer NOT NULL,
  oc_code varchar,                      -- somconnexio: OpenCell tax code (TAX_HIGH, …)
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS account_payment_method (
  id serial PRIMARY KEY,
  name jsonb NOT NULL,
  code varchar NOT NULL,
  payment_type varchar NOT NULL,        -- inbound / outbound
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  CONSTRAINT account_payment_method_name_code_unique UNIQUE (code, payment_type)
);

CREATE TABLE IF NOT EXISTS account_payment_mode (
  id serial PRIMARY KEY,
  name jsonb NOT NULL,
  company_id integer NOT NULL,
  bank_account_link varchar NOT NULL DEFAULT 'variable',
  fixed_journal_id integer,
  payment_method_id integer NOT NULL,
  payment_type varchar,                 -- related stored
  payment_method_code varchar,          -- related stored
  active boolean DEFAULT true,
  note jsonb,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);
