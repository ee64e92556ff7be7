-- Contracts (OCA contract 16.0 + somconnexio extensions), contract groups, service technologies and
-- suppliers, and the ISP "service contract info" tables. The contract points at its info record.
-- Columns, types and NOT NULL follow the upstream models (schemas/odoo/manifest.json, MANIFEST.md); the
-- integration test test/integration/odoo-manifest.test.ts checks every captured table against it.

CREATE TABLE IF NOT EXISTS service_technology (
  id serial PRIMARY KEY,
  name varchar,                         -- Char, not required
  service_product_category_id integer,  -- the main tariff category of this technology
  external_provisioning_required boolean DEFAULT false,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS service_supplier (
  id serial PRIMARY KEY,
  name varchar,                         -- Char, not required
  ref varchar,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

-- One OpenCell customer account per group: code = "{partner.ref}_{n}".
CREATE TABLE IF NOT EXISTS contract_group (
  id serial PRIMARY KEY,
  code varchar,                         -- Char, not required
  partner_id integer,                   -- Many2one, not required
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);
CREATE INDEX IF NOT EXISTS contract_group_partner_id_index ON contract_group (partner_id);

CREATE TABLE IF NOT EXISTS contract_terminate_reason (
  id serial PRIMARY KEY,
  name varchar NOT NULL,                -- OCA Char(required=True), not translated
  terminate_comment_required boolean DEFAULT true,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS contract_terminate_user_reason (
  id serial PRIMARY KEY,
  name jsonb NOT NULL,
  active boolean DEFAULT true,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

-- ISP info tables (somconnexio *.service.contract.info). phone_number is required on each (not on the
-- switchboard one); router 4G, Orange fiber and ADSL default it to '-' (no number). None has an `active` column.
-- The broadband ones (all but mobile) have id_order and previous_id from broadband.service.contract.info.
CREATE TABLE IF NOT EXISTS mobile_service_contract_info (
  id serial PRIMARY KEY,
  phone_number varchar NOT NULL,
  icc varchar NOT NULL,
  delivery_street varchar,
  delivery_street2 varchar,
  delivery_zip_code varchar,
  delivery_city varchar,
  delivery_state_id integer,
  delivery_country_id integer,
  shared_bond_id varchar,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS vodafone_fiber_service_contract_info (
  id serial PRIMARY KEY,
  phone_number varchar NOT NULL,
  id_order varchar,
  previous_id varchar,
  vodafone_id varchar NOT NULL,
  vodafone_offer_code varchar NOT NULL,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS mm_fiber_service_contract_info (
  id serial PRIMARY KEY,
  phone_number varchar NOT NULL,
  id_order varchar,
  previous_id varchar,
  mm_id varchar NOT NULL,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS orange_fiber_service_contract_info (
  id serial PRIMARY KEY,
  phone_number varchar NOT NULL DEFAULT '-',
  id_order varchar,
  previous_id varchar,
  suma_id varchar NOT NULL,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS adsl_service_contract_info (
  id serial PRIMARY KEY,
  phone_number varchar NOT NULL DEFAULT '-',
  id_order varchar,
  previous_id varchar,
  administrative_number varchar NOT NULL,
  router_product_id integer NOT NULL,
  router_lot_id integer,
  ppp_user varchar NOT NULL,
  ppp_password varchar NOT NULL,
  endpoint_user varchar NOT NULL,
  endpoint_password varchar NOT NULL,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS router_4g_service_contract_info (
  id serial PRIMARY KEY,
  phone_number varchar NOT NULL DEFAULT '-',
  id_order varchar,
  previous_id varchar,
  router_product_id integer,
  imei varchar,
  ssid varchar,
  pin varchar,
  router_acces varchar,
  password_wifi varchar,
  icc varchar NOT NULL,
  icc_subs varchar,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS xoln_fiber_service_contract_info (
  id serial PRIMARY KEY,
  phone_number varchar NOT NULL,
  id_order varchar,
  previous_id varchar,
  external_id varchar NOT NULL,
  project_id integer NOT NULL,          -- Many2one(xoln.project); that model is not part of this schema
  router_product_id integer NOT NULL,
  router_lot_id integer,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

-- switchboard_somconnexio: phone_number is not required here (older versions defaulted it to '-').
CREATE TABLE IF NOT EXISTS switchboard_service_contract_info (
  id serial PRIMARY KEY,
  phone_number varchar,
  phone_number_2 varchar,
  agent_name varchar,
  agent_email varchar,
  extension varchar,
  icc varchar,
  "MAC_CPE_SIP" varchar,
  "SIP_channel_name" varchar,
  "SIP_channel_password" varchar,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS contract_contract (
  id serial PRIMARY KEY,
  name varchar NOT NULL,
  active boolean DEFAULT true,
  code varchar,                          -- OpenCell subscription code (somconnexio.sequence_contract)
  pricelist_id integer,
  partner_id integer NOT NULL,
  invoice_partner_id integer,
  commercial_partner_id integer,         -- stored
  journal_id integer,
  company_id integer NOT NULL,
  contract_type varchar DEFAULT 'sale',
  recurring_rule_type varchar DEFAULT 'monthly',
  recurring_interval integer DEFAULT 1,
  recurring_invoicing_type varchar DEFAULT 'pre-paid',
  date_start date,                       -- stored compute: min of line starts
  date_end date,                         -- stored compute: max of line ends
  recurring_next_date date,
  last_date_invoiced date,
  line_recurrence boolean DEFAULT false,
  generation_type varchar DEFAULT 'invoice',
  user_id integer,
  payment_term_id integer,
  fiscal_position_id integer,
  manual_currency_id integer,
  note text,
  is_terminated boolean DEFAULT false,
  terminate_reason_id integer,
  terminate_comment text,
  terminate_date date,
  -- somconnexio
  service_partner_id integer,            -- the service address partner
  mandate_id integer,                    -- contract_mandate
  payment_mode_id integer,               -- contract_payment_mode
  contract_group_id integer,
  group_id integer,                      -- OCA contract.group (unrelated to contract_group_id)
  contract_template_id integer,
  crm_lead_line_id integer,
  service_technology_id integer NOT NULL,
  service_supplier_id integer NOT NULL,
  phone_number varchar,                  -- stored compute from the info record ('-' where the info has none)
  icc varchar,
  vodafone_id varchar,
  lang varchar,
  fiber_signal_type_id integer,
  terminate_target_provider integer,
  current_tariff_contract_line integer,
  current_tariff_product integer,
  current_tariff_start_date date,
  mobile_contract_service_info_id integer,
  vodafone_fiber_service_contract_info_id integer,
  mm_fiber_service_contract_info_id integer,
  orange_fiber_service_contract_info_id integer,
  adsl_service_contract_info_id integer,
  "router_4G_service_contract_info_id" integer,  -- Odoo quotes the name: capital G kept
  xoln_fiber_service_contract_info_id integer,
  switchboard_service_contract_info_id integer,  -- switchboard_somconnexio
  parent_pack_contract_id integer,
  terminate_user_reason_id integer,
  create_reason varchar,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);
CREATE INDEX IF NOT EXISTS contract_contract_partner_id_index ON contract_contract (partner_id);
CREATE INDEX IF NOT EXISTS contract_contract_code_index ON contract_contract (code);

-- email_ids: Many2many contract.contract <-> res.partner, Odoo's default relation table name.
CREATE TABLE IF NOT EXISTS contract_contract_res_partner_rel (
  contract_contract_id integer NOT NULL,
  res_partner_id integer NOT NULL,
  PRIMARY KEY (contract_contract_id, res_partner_id)
);
CREATE INDEX IF NOT EXISTS contract_contract_res_partner_rel_res_partner_id_idx
  ON contract_contract_res_partner_rel (res_partner_id, contract_contract_id);

-- contracts_in_pack: somconnexio's stored Many2many contract.contract <-> contract.contract (column1 id,
-- column2 contract_id). Not read by this project.
CREATE TABLE IF NOT EXISTS contracts_in_pack (
  id integer NOT NULL,
  contract_id integer NOT NULL,
  PRIMARY KEY (id, contract_id)
);

CREATE TABLE IF NOT EXISTS contract_line (
  id serial PRIMARY KEY,
  sequence integer,
  contract_id integer NOT NULL,
  product_id integer,
  name text NOT NULL,
  quantity double precision NOT NULL DEFAULT 1,   -- OCA: Float without digits -> float8
  uom_id integer,
  automatic_price boolean DEFAULT false,
  specific_price double precision,                -- OCA: Float without digits -> float8; price_unit is NOT a column
  discount numeric,
  note_invoicing_mode varchar DEFAULT 'with_previous_line',
  display_type varchar,
  date_start date NOT NULL,
  date_end date,
  recurring_next_date date,
  last_date_invoiced date,
  recurring_rule_type varchar NOT NULL DEFAULT 'monthly',       -- stored compute, required
  recurring_interval integer NOT NULL DEFAULT 1,
  recurring_invoicing_type varchar NOT NULL DEFAULT 'pre-paid',
  termination_notice_date date,
  termination_notice_interval integer DEFAULT 1,
  termination_notice_rule_type varchar DEFAULT 'monthly',
  is_canceled boolean DEFAULT false,
  is_auto_renew boolean DEFAULT false,
  auto_renew_interval integer DEFAULT 1,
  auto_renew_rule_type varchar DEFAULT 'yearly',
  manual_renew_needed boolean DEFAULT false,
  successor_contract_line_id integer,
  predecessor_contract_line_id integer,
  analytic_distribution jsonb,
  active boolean DEFAULT true,                    -- stored related of the contract
  company_id integer,                             -- stored related of the contract
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);
CREATE INDEX IF NOT EXISTS contract_line_contract_id_index ON contract_line (contract_id);
