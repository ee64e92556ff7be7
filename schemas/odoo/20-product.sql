-- Product catalog (product, uom). product_product.default_code is the OpenCell service / one-shot code.

CREATE TABLE IF NOT EXISTS product_category (
  id serial PRIMARY KEY,
  parent_path varchar,
  name varchar NOT NULL,
  complete_name varchar,                -- stored compute "All / Mobile / …"
  parent_id integer,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);
CREATE INDEX IF NOT EXISTS product_category_parent_id_index ON product_category (parent_id);

CREATE TABLE IF NOT EXISTS product_template (
  id serial PRIMARY KEY,
  name jsonb NOT NULL,                  -- translated
  sequence integer DEFAULT 1,
  description jsonb,
  description_purchase jsonb,
  description_sale jsonb,
  detailed_type varchar NOT NULL DEFAULT 'service',  -- consu / service / product
  type varchar NOT NULL DEFAULT 'consu',
  categ_id integer NOT NULL,
  list_price numeric,
  volume numeric,
  weight numeric,
  sale_ok boolean DEFAULT true,
  purchase_ok boolean DEFAULT true,
  uom_id integer NOT NULL,
  uom_po_id integer NOT NULL,
  company_id integer,
  active boolean DEFAULT true,
  color integer,
  default_code varchar,                 -- stored compute mirrored from the single variant
  invoice_policy varchar DEFAULT 'order',
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS product_product (
  id serial PRIMARY KEY,
  default_code varchar,                 -- OpenCell product code
  active boolean DEFAULT true,
  product_tmpl_id integer NOT NULL,
  barcode varchar,
  combination_indices varchar DEFAULT '',
  volume numeric,
  weight numeric,
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  CONSTRAINT product_product_barcode_uniq UNIQUE (barcode)
);
CREATE UNIQUE INDEX IF NOT EXISTS product_product_combination_unique
  ON product_product (product_tmpl_id, combination_indices) WHERE active IS TRUE;
CREATE INDEX IF NOT EXISTS product_product_default_code_index ON product_product (default_code);

CREATE TABLE IF NOT EXISTS product_pricelist (
  id serial PRIMARY KEY,
  name jsonb NOT NULL,
  active boolean DEFAULT true,
  sequence integer,
  currency_id integer NOT NULL,
  company_id integer,
  code varchar,                         -- somconnexio: e.g. 0IVA (tax-excluded tariff prices)
  create_uid integer,
  create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
  write_uid integer,
  write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC')
);
