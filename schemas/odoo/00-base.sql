-- Odoo 16 core tables (base module) that the captured tables reference.
-- Column names and types follow Odoo 16's ORM mapping: Char/Selection -> varchar, Text/Html -> text,
-- Many2one/Integer -> int4, Float with digits / Monetary -> numeric, Float without digits -> float8,
-- Date -> date, Datetime -> timestamp (UTC, no tz), translated Char -> jsonb {"en_US": …, "ca_ES": …}.
-- Every table has Odoo's magic columns: id serial PK, create_uid, create_date, write_uid, write_date.
-- DB-level defaults (now() in UTC, active=true…) are a convenience for SQL-level tests and the demo seed;
-- Odoo itself sets them from the ORM. Foreign keys are added in 70-foreign-keys.sql (Odoo adds them after
-- creating every table too, which is how it handles cycles such as res_partner <-> res_company).
-- Safe to re-apply: CREATE … IF NOT EXISTS everywhere.

CREATE TABLE IF NOT EXISTS res_currency (
  id serial PRIMARY KEY,
  name varchar(3) NOT NULL,
  full_name varchar,
  symbol varchar NOT NULL,
  rounding numeric,
  decimal_places integer,
  active boolean DEFAULT true,
  position varchar,
  currency_unit_label jsonb,
  currency_subunit_label jsonb,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  CONSTRAINT res_currency_unique_name UNIQUE (name)
);

CREATE TABLE IF NOT EXISTS res_country (
  id serial PRIMARY KEY,
  name jsonb NOT NULL,
  code varchar(2),
  address_format text,
  address_view_id integer,
  currency_id integer,
  phone_code integer,
  name_position varchar,
  vat_label jsonb,
  state_required boolean,
  zip_required boolean,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  CONSTRAINT res_country_code_uniq UNIQUE (code)
);

CREATE TABLE IF NOT EXISTS res_country_state (
  id serial PRIMARY KEY,
  country_id integer NOT NULL,
  name varchar NOT NULL,
  code varchar NOT NULL,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  CONSTRAINT res_country_state_name_code_uniq UNIQUE (country_id, code)
);

CREATE TABLE IF NOT EXISTS res_company (
  id serial PRIMARY KEY,
  name varchar NOT NULL,
  partner_id integer NOT NULL,
  currency_id integer NOT NULL,
  sequence integer,
  parent_id integer,
  email varchar,
  phone varchar,
  vat varchar,
  company_registry varchar,
  active boolean DEFAULT true,
  account_fiscal_country_id integer,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  CONSTRAINT res_company_name_uniq UNIQUE (name)
);

CREATE TABLE IF NOT EXISTS res_users (
  id serial PRIMARY KEY,
  login varchar NOT NULL,
  password varchar,
  partner_id integer NOT NULL,
  company_id integer NOT NULL,
  active boolean DEFAULT true,
  share boolean DEFAULT false,
  signature text,
  notification_type varchar DEFAULT 'email',
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  CONSTRAINT res_users_login_key UNIQUE (login)
);

-- XML ids: (module, name) -> (model, res_id). Product categories, service technologies and suppliers are
-- identified by XML id (e.g. somconnexio.mobile_oneshot_service), exactly as the original module does.
CREATE TABLE IF NOT EXISTS ir_model_data (
  id serial PRIMARY KEY,
  res_id integer,
  noupdate boolean DEFAULT false,
  name varchar NOT NULL,
  module varchar NOT NULL,
  model varchar NOT NULL,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);
CREATE UNIQUE INDEX IF NOT EXISTS ir_model_data_module_name_uniq_index ON ir_model_data (module, name);
CREATE INDEX IF NOT EXISTS ir_model_data_model_res_id_index ON ir_model_data (model, res_id);

-- ir.config_parameter (base): per-database settings; the original module keeps its OpenCell seller and customer
-- category codes here (opencell_somconnexio.opencell_seller_code / opencell_customer_category_code).
CREATE TABLE IF NOT EXISTS ir_config_parameter (
  id serial PRIMARY KEY,
  key varchar NOT NULL,
  value text NOT NULL,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  CONSTRAINT ir_config_parameter_key_uniq UNIQUE (key)
);

-- ir.sequence with implementation 'standard' is backed by a PostgreSQL sequence named ir_sequence_%03d.
CREATE TABLE IF NOT EXISTS ir_sequence (
  id serial PRIMARY KEY,
  name varchar NOT NULL,
  code varchar,
  implementation varchar NOT NULL DEFAULT 'standard',
  active boolean DEFAULT true,
  prefix varchar,
  suffix varchar,
  number_next integer NOT NULL DEFAULT 1,
  number_increment integer NOT NULL DEFAULT 1,
  padding integer NOT NULL DEFAULT 0,
  company_id integer,
  use_date_range boolean DEFAULT false,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS uom_category (
  id serial PRIMARY KEY,
  name jsonb NOT NULL,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS uom_uom (
  id serial PRIMARY KEY,
  name jsonb NOT NULL,
  category_id integer NOT NULL,
  factor numeric NOT NULL,
  rounding numeric NOT NULL,
  active boolean DEFAULT true,
  uom_type varchar NOT NULL,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);
